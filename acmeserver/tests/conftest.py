"""What the ACME tests share: an ACME-enabled CA, account keys, and signed requests."""

from __future__ import annotations

import json
from typing import Any

import josepy as jose
import pytest
from acme import jws as acme_jws
from cryptography.hazmat.primitives.asymmetric import rsa

from acmeserver import nonces
from certificates import services
from certificates.tests.conftest import create_ca


@pytest.fixture
def acme_ca(admin_a):
    ca = create_ca(admin_a, "ACME CA", key_algorithm="ecdsa", key_size=256)
    return services.ca_update(actor=admin_a, ca=ca, changes={"acme_enabled": True})


def account_key() -> jose.JWKRSA:
    return jose.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))


def signed_post(client, url: str, payload: dict | None, key: jose.JWK, *, nonce: str | None = None,
                kid: str | None = None, sign_url: str | None = None, alg: Any = jose.RS256,
                content_type: str = "application/jose+json"):  # fmt: skip
    body = b"" if payload is None else json.dumps(payload).encode()
    jws = acme_jws.JWS.sign(
        body, key=key, alg=alg, nonce=jose.decode_b64jose(nonce or nonces.new_nonce()),
        url=sign_url or f"http://testserver{url}", kid=kid,
    )  # fmt: skip
    return client.post(url, jws.json_dumps(), content_type=content_type)


def problem(response) -> str:
    assert response["Content-Type"] == "application/problem+json", response.content
    assert response["Replay-Nonce"]
    return response.json()["type"].removeprefix("urn:ietf:params:acme:error:")


@pytest.fixture
def registered(client, admin_a, acme_ca) -> tuple[jose.JWK, str]:
    services.ca_update(actor=admin_a, ca=acme_ca, changes={"acme_eab_required": False})
    key = account_key()
    response = signed_post(client, f"/acme/{acme_ca.slug}/new-account", {"termsOfServiceAgreed": True}, key)
    assert response.status_code == 201, response.content
    return key, response["Location"]
