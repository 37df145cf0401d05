"""keyChange (RFC 8555 §7.3.5): an account rolls over to a new key, with the inner JWS signed by
the new key, naming the account and its old key."""

from __future__ import annotations

import json
from typing import Any

import josepy as jose
import pytest
from acme import jws as acme_jws

from acmeserver.models import AcmeAccount
from acmeserver.tests.conftest import account_key, problem, signed_post

URL = "http://testserver/acme/{}/key-change"


def inner(new_key: jose.JWK, url: str, account: str, old_key: jose.JWK, **overrides: Any) -> dict[str, Any]:
    """The inner JWS, signed by `signer` (the new key unless given) with its jwk in the header,
    which then names the new key whoever signed."""
    payload = {"account": account, "oldKey": old_key.public_key().to_partial_json()}
    signer = overrides.get("signer", new_key)
    signed = acme_jws.JWS.sign(
        json.dumps(payload).encode(), key=signer, alg=jose.RS256, url=url, nonce=overrides.get("nonce")
    ).to_partial_json()
    if signer is not new_key:  # the header says the new key; the signature is another key's
        protected = json.loads(jose.b64.b64decode(signed["protected"]))
        protected["jwk"] = new_key.public_key().to_partial_json()
        signed["protected"] = jose.b64.b64encode(json.dumps(protected).encode()).decode()
    return signed


def roll(client, ca, key: jose.JWK, kid: str, body: dict[str, Any]):
    return signed_post(client, f"/acme/{ca.slug}/key-change", body, key, kid=kid)


def test_an_account_rolls_over_to_a_new_key(client, acme_ca, registered):
    old, kid = registered
    new = account_key()

    response = roll(client, acme_ca, old, kid, inner(new, URL.format(acme_ca.slug), kid, old))

    assert response.status_code == 200, response.content
    assert response["Location"] == kid
    path = kid.removeprefix("http://testserver")
    assert signed_post(client, path, None, new, kid=kid).status_code == 200
    assert problem(signed_post(client, path, None, old, kid=kid)) == "malformed"  # the old key no longer signs
    assert AcmeAccount.objects.get().thumbprint == jose.encode_b64jose(new.thumbprint())


@pytest.mark.parametrize("case", ["other account", "wrong old key", "other url", "not signed by the new key", "nonce"])
def test_a_bad_inner_jws_changes_nothing(client, acme_ca, registered, case):
    old, kid = registered
    new, url = account_key(), URL.format(acme_ca.slug)
    body = {
        "other account": lambda: inner(new, url, kid.rsplit("/", 1)[0] + "/999", old),
        "wrong old key": lambda: inner(new, url, kid, account_key()),
        "other url": lambda: inner(new, url.replace("key-change", "new-account"), kid, old),
        "not signed by the new key": lambda: inner(new, url, kid, old, signer=account_key()),
        "nonce": lambda: inner(new, url, kid, old, nonce=b"0123456789abcdef"),
    }[case]()

    response = roll(client, acme_ca, old, kid, body)

    assert response.status_code == 400, response.content
    assert problem(response) == "malformed"
    assert AcmeAccount.objects.get().thumbprint == jose.encode_b64jose(old.thumbprint())


def test_a_key_of_another_account_is_a_conflict(client, acme_ca, registered):
    old, kid = registered
    other = account_key()
    made = signed_post(client, f"/acme/{acme_ca.slug}/new-account", {"termsOfServiceAgreed": True}, other)
    assert made.status_code == 201

    response = roll(client, acme_ca, old, kid, inner(other, URL.format(acme_ca.slug), kid, old))

    assert response.status_code == 409
    assert response["Location"] == made["Location"]
    assert AcmeAccount.objects.get(pk=int(kid.rsplit("/", 1)[1])).thumbprint == jose.encode_b64jose(old.thumbprint())
