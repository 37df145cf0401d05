"""The ACME server of each CA (`/acme/{slug}/…`, RFC 8555): directory, nonces and accounts.

Plain Django views: requests are JWS documents (`application/jose+json`) and errors are
`application/problem+json`, neither of which DRF's parsers and renderers speak."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, cast

import josepy as jose
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from acmeserver import accounts, nonces, protocol, revocation
from acmeserver.models import AcmeAccount
from acmeserver.problems import AcmeProblem, malformed
from certificates import services as pki_services
from certificates.models import CertificateAuthority
from pkiserver.errors import NotFound

View = Callable[..., HttpResponse]


class Endpoint:
    """One request to the ACME server of the CA `slug`: its URLs and its CA."""

    def __init__(self, request: HttpRequest, slug: str) -> None:
        self.request, self.slug = request, slug
        base = (settings.PUBLIC_BASE_URL or request.build_absolute_uri("/")).rstrip("/")
        self.root = f"{base}/acme/{slug}"
        self.url = f"{base}{request.path}"
        self._ca: CertificateAuthority | None = None
        self.signer: AcmeAccount | None = None  # the account whose kid signed the request

    @property
    def ca(self) -> CertificateAuthority:
        if self._ca is None:
            try:
                ca = pki_services.ca_by_slug(self.slug, also=("acme_enabled", "acme_eab_required"))
            except NotFound:
                ca = None
            if ca is None or not ca.acme_enabled:
                raise AcmeProblem("malformed", f"There is no ACME server at {self.root}.", 404)
            self._ca = ca
        return self._ca

    def account_url(self, account: AcmeAccount) -> str:
        return f"{self.root}/account/{account.pk}"

    def account(self, kid: str) -> AcmeAccount:
        prefix = f"{self.root}/account/"
        number = kid.removeprefix(prefix) if kid.startswith(prefix) else ""
        account = (
            AcmeAccount.objects.select_related("service_account").filter(pk=int(number), ca=self.ca).first()
            if number.isdigit() and len(number) < 19
            else None
        )
        if account is None:
            raise AcmeProblem("accountDoesNotExist", f"No account {kid} at this CA.", 400)
        account.ca = self.ca
        return accounts.usable(account)

    def _signer_key(self, kid: str) -> jose.JWK:
        self.signer = self.account(kid)
        return cast(jose.JWK, jose.JWK.from_json(self.signer.jwk))

    def signed(self, signed_by: str = "kid") -> protocol.SignedRequest:
        if self.request.content_type != "application/jose+json":
            raise AcmeProblem("malformed", "ACME requests are application/jose+json.", 415)
        return protocol.verify(
            self.request.body, url=self.url, consume_nonce=nonces.consume, signed_by=signed_by,
            account_key=self._signer_key,
        )  # fmt: skip


def acme_endpoint(methods: tuple[str, ...]) -> Callable[[Callable[..., HttpResponse]], View]:
    """A view of the ACME server: problem documents for errors, a fresh nonce on every answer."""

    def decorate(handler: Callable[..., HttpResponse]) -> View:
        @csrf_exempt
        @functools.wraps(handler)
        def view(request: HttpRequest, slug: str, **kwargs: Any) -> HttpResponse:
            endpoint = Endpoint(request, slug)
            try:
                endpoint.ca  # noqa: B018 - a CA without ACME answers 404 whatever the request
                if request.method not in methods:
                    raise AcmeProblem("malformed", f"Use {' or '.join(methods)} here.", 405)
                response = handler(endpoint, **kwargs)
            except AcmeProblem as problem:
                response = HttpResponse(
                    json.dumps(problem.as_json()), status=problem.status, content_type="application/problem+json"
                )
                if problem.status == 405:
                    response["Allow"] = ", ".join(methods)
                if problem.location:
                    response["Location"] = problem.location
            response["Replay-Nonce"] = nonces.new_nonce()
            response["Cache-Control"] = "no-store"
            response["Link"] = f'<{endpoint.root}/directory>;rel="index"'
            return response

        return view

    return decorate


@acme_endpoint(("GET",))
def directory(endpoint: Endpoint) -> HttpResponse:
    root = endpoint.root
    return JsonResponse({
        "newNonce": f"{root}/new-nonce", "newAccount": f"{root}/new-account", "newOrder": f"{root}/new-order",
        "revokeCert": f"{root}/revoke-cert", "keyChange": f"{root}/key-change",
        "meta": {"externalAccountRequired": endpoint.ca.acme_eab_required},
    })  # fmt: skip


@acme_endpoint(("HEAD", "GET"))
def new_nonce(endpoint: Endpoint) -> HttpResponse:
    return HttpResponse(status=200 if endpoint.request.method == "HEAD" else 204)


def _account_answer(endpoint: Endpoint, account: AcmeAccount, status: int = 200) -> HttpResponse:
    response = JsonResponse({"status": account.status, "contact": account.contact}, status=status)
    response["Location"] = endpoint.account_url(account)
    return response


@acme_endpoint(("POST",))
def new_account(endpoint: Endpoint) -> HttpResponse:
    signed = endpoint.signed(signed_by="jwk")
    account, created = accounts.register(
        ca=endpoint.ca, jwk=signed.key, payload=signed.body(), new_account_url=endpoint.url,
        account_url=endpoint.account_url,
    )  # fmt: skip
    return _account_answer(endpoint, account, 201 if created else 200)


@acme_endpoint(("POST",))
def account(endpoint: Endpoint, pk: str) -> HttpResponse:
    signed = endpoint.signed()
    url = endpoint.url
    if signed.header.kid != url or endpoint.signer is None:
        raise malformed("An account is read and changed with its own key only.")
    return _account_answer(endpoint, accounts.update(account=endpoint.signer, payload=signed.body(), url=url))


@acme_endpoint(("POST",))
def key_change(endpoint: Endpoint) -> HttpResponse:
    signed = endpoint.signed()
    mine = cast(AcmeAccount, endpoint.signer)  # signed with a kid: `signed` found its account
    new_key = protocol.check_key_change(
        signed.body(), url=endpoint.url, account_url=endpoint.account_url(mine), old_key=signed.key
    )
    return _account_answer(
        endpoint, accounts.change_key(account=mine, new_key=new_key, account_url=endpoint.account_url)
    )


@acme_endpoint(("POST",))
def revoke_cert(endpoint: Endpoint) -> HttpResponse:
    signed = endpoint.signed(signed_by="either")
    revocation.revoke(ca=endpoint.ca, body=signed.body(), jwk=signed.header.jwk, account=endpoint.signer)
    return HttpResponse(status=200)
