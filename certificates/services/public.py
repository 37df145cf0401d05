"""What relying parties read without an account: a CA, its CRL and OCSP answers, by slug (SPEC §9)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from certificates import x509 as pki
from certificates.models import Certificate, CertificateAuthority, RevocationList
from certificates.services.common import ca_material
from certificates.services.revocation import crl_current, crl_headers, reason_flag
from pkiserver.errors import NotFound

# What the public routes read of a CA.
PUBLIC_CA_FIELDS = ("id", "name", "serial_number", "certificate", "private_key", "parent_id", "organization_id")


def _slug_id(slug: str) -> int:
    parsed = pki.parse_slug(slug)
    if parsed is None or not 0 < parsed[1] < 2**63:
        raise NotFound("CA not found")
    return parsed[1]


def _named(ca: CertificateAuthority | None, slug: str) -> CertificateAuthority:
    if ca is None or pki.slugify_ca(ca.name, ca.pk) != slug:
        raise NotFound("CA not found")
    return ca


def ca_by_slug(slug: str, *, also: tuple[str, ...] = ()) -> CertificateAuthority:
    """The CA that `slug` names, or 404; `also`: fields the caller reads besides the public ones."""
    fields = (*PUBLIC_CA_FIELDS, *also)
    return _named(CertificateAuthority.objects.only(*fields).filter(pk=_slug_id(slug)).first(), slug)


_CRL_HEADER_FIELDS = ("ca_id", "number", "this_update", "next_update", "entries")


def crl_by_slug(slug: str) -> RevocationList:
    """The current CRL (`crl_current`) of the CA named by `slug`, or 404: the CRL's number and
    dates, and whether a revocation waits for it, are read with its CA in one query once the CA
    has a CRL."""
    header = (
        crl_headers()
        .select_related("ca")
        .only(*_CRL_HEADER_FIELDS, *(f"ca__{name}" for name in PUBLIC_CA_FIELDS))
        .filter(ca_id=_slug_id(slug))
        .first()
    )
    if header is None:  # no CRL yet (or no such CA)
        return crl_current(ca=ca_by_slug(slug), header=None)
    return crl_current(ca=_named(header.ca, slug), header=header)


OCSP_VALIDITY = timedelta(hours=1)
# Signed answers to requests without a nonce are reused while the certificate's status is
# unchanged, for at most OCSP_REUSE (RFC 5019 §2.2: responses may be produced ahead of time): a
# relying party polling a status costs a look-up, not a signature. A request with a nonce always
# gets a fresh signature. Kept in the shared cache, keyed by the request's bytes and the status.
OCSP_REUSE = timedelta(seconds=60)


def _status(ca: CertificateAuthority, serial: str) -> tuple[datetime | None, int | None] | None:
    """(revoked_at, reason code) of the certificate of `ca` with this serial, or None when it has none."""
    row = Certificate.objects.filter(issuer_id=ca.pk, serial_number=serial)
    found = row.values_list("revoked_at", "revocation_reason_code").first()
    if found is None and CertificateAuthority.objects.filter(parent_id=ca.pk, serial_number=serial).exists():
        # A child CA's certificate: its AIA points here too. A revoked (or deleted) child has a
        # revoked certificate row under this CA (`_record_ca_revocation`), found above.
        return (None, None)
    return found


def _reusable(request: Any) -> bool:
    try:
        return len(request.extensions) == 0
    except Exception:  # malformed extensions: answered malformedRequest below, never reused
        return False


def _ocsp_cache_key(ca: CertificateAuthority, request: tuple[str, Any], status: Any) -> str:
    digest = hashlib.sha256(repr((request, status)).encode()).hexdigest()
    return f"certificates:ocsp:{ca.pk}:{ca.serial_number}:{digest}"


def ocsp_respond(*, slug: str, request_der: bytes | None = None, get_path: str | None = None) -> bytes:
    """A signed OCSP answer for one request to the CA of `slug` (404 when there is none);
    `malformedRequest` when the request cannot be parsed."""
    try:
        request = (
            pki.parse_ocsp_get_request(get_path) if get_path is not None else pki.parse_ocsp_request(request_der or b"")
        )
    except pki.X509Error:
        ca_by_slug(slug)  # an unknown CA is a 404 whatever the body
        return pki.malformed_response()
    ca = ca_by_slug(slug)
    row = _status(ca, pki.serial_to_hex(request.serial_number))
    raw = ("GET", get_path) if get_path is not None else ("POST", request_der)
    key = _ocsp_cache_key(ca, raw, row) if _reusable(request) else None
    if key is not None and (cached := cache.get(key)) is not None:
        return bytes(cached)
    if row is None:
        lookup = pki.OCSPLookup(pki.OCSPStatus.UNKNOWN)
    elif row[0] is None:
        lookup = pki.OCSPLookup(pki.OCSPStatus.GOOD)
    else:
        lookup = pki.OCSPLookup(pki.OCSPStatus.REVOKED, revoked_at=row[0], reason=reason_flag(row[1]))
    ca_cert, ca_key = ca_material(ca)
    now = timezone.now().replace(microsecond=0)
    try:
        answer = pki.build_ocsp_response(
            issuer_cert=ca_cert, issuer_key=ca_key, request=request, lookup=lookup, this_update=now,
            next_update=now + OCSP_VALIDITY,
        )  # fmt: skip
    except pki.X509Error:  # extensions are parsed only here (a duplicate or broken nonce)
        return pki.malformed_response()
    if key is not None:
        cache.set(key, answer, OCSP_REUSE.total_seconds())
    return answer
