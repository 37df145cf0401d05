"""ACME accounts through the `acme` library's own client (certbot's), against a live server:
directory, nonces, newAccount with external account binding, account update and deactivation
(RFC 8555 §7.1 to §7.3, SPEC §15). Protocol edge cases go through Django's test client."""

from __future__ import annotations

from typing import Any

import josepy as jose
import pytest
from acme import client, errors, messages
from cryptography.hazmat.primitives.asymmetric import ec

from acmeserver import nonces
from acmeserver.models import AcmeAccount, EabCredential
from acmeserver.services import eab_create
from acmeserver.tests.conftest import account_key, problem, signed_post
from audit.models import AuditLog
from certificates import services
from serviceaccounts.tests.conftest import make_account

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def robot(org_a):
    return make_account(org_a, "acme-robot", can_create_cert=True)


@pytest.fixture
def binding(admin_a, robot) -> tuple[str, str]:
    credential, key = eab_create(actor=admin_a, account=robot)
    return credential.kid, key


def acme_client(live_server, ca, key: jose.JWK) -> client.ClientV2:
    net = client.ClientNetwork(key, user_agent="pkiserver-tests")
    return client.ClientV2(client.ClientV2.get_directory(f"{live_server.url}/acme/{ca.slug}/directory", net), net)


def register(acme: client.ClientV2, key: jose.JWK, kid: str | None, hmac_key: str | None, **fields: Any):
    eab = None
    if kid is not None:
        eab = messages.ExternalAccountBinding.from_data(
            account_public_key=key.public_key(), kid=kid, hmac_key=hmac_key, directory=acme.directory
        )
    regr = messages.NewRegistration.from_data(
        email="ops@example.com", terms_of_service_agreed=True, external_account_binding=eab, **fields
    )
    return acme.new_account(regr)


# --- directory and nonces ---------------------------------------------------------------------


def test_the_directory_names_absolute_urls_and_requires_a_binding(client, acme_ca):
    response = client.get(f"/acme/{acme_ca.slug}/directory")

    assert response.status_code == 200
    body = response.json()
    root = f"http://testserver/acme/{acme_ca.slug}"
    assert {k: body[k] for k in ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange")} == {
        "newNonce": f"{root}/new-nonce", "newAccount": f"{root}/new-account", "newOrder": f"{root}/new-order",
        "revokeCert": f"{root}/revoke-cert", "keyChange": f"{root}/key-change",
    }  # fmt: skip
    assert body["meta"] == {"externalAccountRequired": True}
    assert response["Replay-Nonce"] and response["Cache-Control"] == "no-store"


def test_a_ca_without_acme_answers_404_problems(client, admin_a, acme_ca):
    services.ca_update(actor=admin_a, ca=acme_ca, changes={"acme_enabled": False})

    for path in ("directory", "new-nonce", "new-account"):
        response = client.get(f"/acme/{acme_ca.slug}/{path}")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["type"] == "urn:ietf:params:acme:error:malformed"
    assert client.get("/acme/no-such-ca-9/directory").status_code == 404


def test_new_nonce_answers_a_fresh_nonce_every_time(client, acme_ca):
    head = client.head(f"/acme/{acme_ca.slug}/new-nonce")
    get = client.get(f"/acme/{acme_ca.slug}/new-nonce")

    assert (head.status_code, get.status_code) == (200, 204)
    assert head["Replay-Nonce"] != get["Replay-Nonce"]
    assert head["Cache-Control"] == "no-store"
    assert client.post(f"/acme/{acme_ca.slug}/new-nonce").status_code == 405


# --- accounts through the acme library --------------------------------------------------------


def test_register_with_a_binding_acts_as_the_service_account(live_server, acme_ca, robot, binding):
    kid, hmac_key = binding
    key = account_key()

    regr = register(acme_client(live_server, acme_ca, key), key, kid, hmac_key)

    assert regr.body.status == "valid" and regr.body.contact == ("mailto:ops@example.com",)
    account = AcmeAccount.objects.get()
    assert regr.uri == f"{live_server.url}/acme/{acme_ca.slug}/account/{account.pk}"
    assert (account.ca_id, account.service_account_id) == (acme_ca.pk, robot.pk)
    credential = EabCredential.objects.get(kid=kid)
    assert credential.used_at is not None and credential.account_url == regr.uri
    entry = AuditLog.objects.get(action="acme_account_create")
    assert (entry.username, entry.resource_type, entry.organization_id) == (
        robot.username,
        "acme_account",
        acme_ca.organization_id,
    )
    assert kid in entry.detail


def test_without_a_binding_the_account_is_refused(live_server, acme_ca):
    key = account_key()

    with pytest.raises(errors.Error) as refused:
        register(acme_client(live_server, acme_ca, key), key, None, None)

    assert refused.value.typ == "urn:ietf:params:acme:error:externalAccountRequired"
    assert not AcmeAccount.objects.exists()


def test_a_ca_may_take_accounts_without_a_binding(live_server, admin_a, acme_ca):
    services.ca_update(actor=admin_a, ca=acme_ca, changes={"acme_eab_required": False})
    key = account_key()

    regr = register(acme_client(live_server, acme_ca, key), key, None, None)

    assert regr.body.status == "valid"
    assert AcmeAccount.objects.get().service_account is None


@pytest.mark.parametrize("problem", ["used", "revoked", "wrong key", "other organization", "disabled"])
def test_a_binding_that_cannot_be_used_is_unauthorized(live_server, admin_a, admin_b, acme_ca, robot, binding, problem):
    kid, hmac_key = binding
    if problem == "used":
        first = account_key()
        register(acme_client(live_server, acme_ca, first), first, kid, hmac_key)
    elif problem == "revoked":
        EabCredential.objects.filter(kid=kid).update(revoked_at="2026-12-08T00:00:00Z")
    elif problem == "wrong key":
        hmac_key = jose.b64.b64encode(b"k" * 32).decode()
    elif problem == "other organization":
        other = make_account(admin_b.organization, "outsider")
        kid, hmac_key = (lambda made: (made[0].kid, made[1]))(eab_create(actor=admin_b, account=other))
    else:
        robot.disabled_at = "2026-12-08T00:00:00Z"
        robot.save(update_fields=["disabled_at"])
    key = account_key()

    with pytest.raises(errors.Error) as refused:
        register(acme_client(live_server, acme_ca, key), key, kid, hmac_key)

    assert refused.value.typ == "urn:ietf:params:acme:error:unauthorized"
    assert AcmeAccount.objects.count() == (1 if problem == "used" else 0)


def test_the_same_key_finds_its_account(live_server, acme_ca, binding):
    kid, hmac_key = binding
    key = account_key()
    regr = register(acme_client(live_server, acme_ca, key), key, kid, hmac_key)

    with pytest.raises(errors.ConflictError) as existing:
        register(acme_client(live_server, acme_ca, key), key, None, None)

    assert existing.value.location == regr.uri
    assert AcmeAccount.objects.count() == 1


def test_only_return_existing_with_an_unknown_key(live_server, acme_ca):
    key = account_key()

    with pytest.raises(errors.Error) as refused:
        register(acme_client(live_server, acme_ca, key), key, None, None, only_return_existing=True)

    assert refused.value.typ == "urn:ietf:params:acme:error:accountDoesNotExist"


def test_query_update_and_deactivate_an_account(live_server, acme_ca, binding):
    kid, hmac_key = binding
    key = account_key()
    acme = acme_client(live_server, acme_ca, key)
    regr = register(acme, key, kid, hmac_key)

    assert acme.query_registration(regr).body.contact == ("mailto:ops@example.com",)
    updated = acme.update_registration(regr, messages.UpdateRegistration(contact=("mailto:new@example.com",)))
    assert updated.body.contact == ("mailto:new@example.com",)
    deactivated = acme.deactivate_registration(updated)

    assert deactivated.body.status == "deactivated"
    assert AcmeAccount.objects.get().status == "deactivated"
    assert AuditLog.objects.filter(action="acme_account_deactivate").count() == 1
    with pytest.raises(errors.Error) as refused:
        acme.query_registration(regr)
    assert refused.value.typ == "urn:ietf:params:acme:error:unauthorized"


def test_disabling_the_service_account_stops_its_acme_accounts(live_server, acme_ca, robot, binding):
    kid, hmac_key = binding
    key = account_key()
    acme = acme_client(live_server, acme_ca, key)
    regr = register(acme, key, kid, hmac_key)
    robot.disabled_at = "2026-12-08T00:00:00Z"
    robot.save(update_fields=["disabled_at"])

    with pytest.raises(errors.Error) as refused:
        acme.query_registration(regr)

    assert refused.value.typ == "urn:ietf:params:acme:error:unauthorized"
    assert "disabled" in refused.value.detail


def test_an_ecdsa_account_key_works(live_server, acme_ca, binding):
    kid, hmac_key = binding
    key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    net = client.ClientNetwork(key, alg=jose.ES256, user_agent="pkiserver-tests")
    acme = client.ClientV2(client.ClientV2.get_directory(f"{live_server.url}/acme/{acme_ca.slug}/directory", net), net)

    regr = register(acme, key, kid, hmac_key)

    assert acme.query_registration(regr).body.status == "valid"


# --- the protocol's refusals, request by request ----------------------------------------------


def test_a_nonce_is_used_once(client, acme_ca, registered):
    key, kid = registered
    path, nonce = kid.removeprefix("http://testserver"), nonces.new_nonce()

    first = signed_post(client, path, None, key, nonce=nonce, kid=kid)
    again = signed_post(client, path, None, key, nonce=nonce, kid=kid)

    assert first.status_code == 200
    assert again.status_code == 400 and problem(again) == "badNonce"
    assert signed_post(client, path, None, key, nonce="never-issued", kid=kid).status_code == 400


@pytest.mark.parametrize(
    ("case", "status", "kind"),
    [
        ("url of another route", 401, "unauthorized"),
        ("jwk on the account url", 400, "malformed"),
        ("kid of another account", 400, "malformed"),
        ("unsupported algorithm", 400, "badSignatureAlgorithm"),
        ("not jose+json", 415, "malformed"),
        ("not a jws", 400, "malformed"),
        ("bad signature", 400, "malformed"),
    ],
)
def test_refusals(client, acme_ca, registered, case, status, kind):
    key, kid = registered
    path = kid.removeprefix("http://testserver")
    other = account_key()
    if case == "url of another route":
        response = signed_post(client, path, None, key, kid=kid, sign_url=f"http://testserver/acme/{acme_ca.slug}/x")
    elif case == "jwk on the account url":
        response = signed_post(client, path, None, key)
    elif case == "kid of another account":
        response = signed_post(client, path, None, key, kid=kid.rsplit("/", 1)[0] + "/999999")
    elif case == "unsupported algorithm":
        response = signed_post(client, path, None, key, kid=kid, alg=jose.RS512)
    elif case == "not jose+json":
        response = signed_post(client, path, None, key, kid=kid, content_type="application/json")
    elif case == "not a jws":
        response = client.post(path, b'{"payload": "e30"}', content_type="application/jose+json")
    else:
        response = signed_post(client, path, None, other, kid=kid)

    assert response.status_code == status, response.content
    assert problem(response) == (kind if case != "kid of another account" else "accountDoesNotExist")
