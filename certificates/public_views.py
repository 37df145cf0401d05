"""Unauthenticated PKI endpoints for relying parties: CRLs and CA certificates (SPEC §9)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.http import http_date, parse_etags
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from certificates import services
from certificates import x509 as pki
from pkiserver.errors import NotFound


def _unknown_ca_is_404(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A slug that names no CA (or a CA deleted while its CRL was being rebuilt) is a plain 404."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404("CA not found") from None

    return wrapper


# No public route reads a cookie or a session, so CSRF has nothing to protect there: a POST is
# answered 405 (JSON, by pkiserver.middleware), not with a CSRF refusal.
@csrf_exempt
@require_safe
@_unknown_ca_is_404
def crl(request: HttpRequest, slug: str, pem: bool = False) -> HttpResponse:
    published = services.crl_by_slug(slug)
    if pem:
        response = HttpResponse(services.crl_pem(published), content_type="application/x-pem-file")
    else:
        response = HttpResponse(bytes(published.der), content_type="application/pkix-crl")
    etag = f'"crl-{published.ca_id}-{published.number}"'
    # Only the ETag decides a 304: Last-Modified has one-second resolution, and a revocation in
    # the same second as the previous CRL must not be answered "not modified".
    if _etag_matches(request.headers.get("If-None-Match"), etag):
        response = HttpResponse(status=304)
    response["ETag"] = etag
    response["Last-Modified"] = http_date(published.this_update.timestamp())
    response["Expires"] = http_date(published.next_update.timestamp())
    response["Cache-Control"] = "public, max-age=60, must-revalidate"
    return response


def _etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2): `*`, lists and `W/` forms match."""
    if not header:
        return False
    candidates = parse_etags(header)
    return "*" in candidates or any(c.removeprefix("W/") == etag for c in candidates)


@csrf_exempt
@require_safe
@_unknown_ca_is_404
def ca_certificate(request: HttpRequest, slug: str, pem: bool = False) -> HttpResponse:
    ca = services.ca_by_slug(slug)
    if pem:
        response = HttpResponse(ca.certificate, content_type="application/x-pem-file")
    else:
        der = pki.certificate_to_der(pki.load_certificate_pem(ca.certificate))
        response = HttpResponse(der, content_type="application/pkix-cert")
    response["Cache-Control"] = "public, max-age=3600"
    return response


MAX_OCSP_REQUEST = 64 * 1024


@csrf_exempt
@require_http_methods(["GET", "POST"])
@_unknown_ca_is_404
def ocsp(request: HttpRequest, slug: str, encoded: str | None = None) -> HttpResponse:
    if request.method == "POST":
        length = request.headers.get("Content-Length") or "0"
        # Read nothing of a body that is too long or whose length is a lie.
        if not length.isdigit() or int(length) > MAX_OCSP_REQUEST:
            services.ca_by_slug(slug)  # an unknown CA is a 404 whatever the body
            body = pki.malformed_response()
        else:
            body = services.ocsp_respond(slug=slug, request_der=request.body)
    else:
        body = services.ocsp_respond(slug=slug, get_path=encoded or "")
    response = HttpResponse(body, content_type="application/ocsp-response")
    response["Cache-Control"] = "no-cache" if request.method == "POST" else "public, max-age=60"
    return response
