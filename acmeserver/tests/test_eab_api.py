"""`/service-accounts/{id}/acme-eab`: ACME external account bindings, made, listed and revoked by
those who manage the service account (SPEC §15). The key is shown once and stored encrypted."""

from __future__ import annotations

import base64
import re

import pytest

from acmeserver import services
from acmeserver.models import EabCredential
from audit.models import AuditLog
from certificates import keystore
from serviceaccounts.tests.conftest import API, make_account, token_client

B64URL = re.compile(r"[A-Za-z0-9_-]+")


@pytest.fixture
def account(org_a):
    return make_account(org_a, "acme-bot", can_create_cert=True)


def _url(account, suffix: str = "") -> str:
    return f"{API}/service-accounts/{account.pk}/acme-eab{suffix}"


def _decoded(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_binding_answers_its_key_once_and_stores_it_encrypted(client_for, admin_a, account):
    response = client_for(admin_a).post(_url(account))

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"kid", "created_at", "used_at", "account_url", "revoked_at", "hmac_key"}
    assert B64URL.fullmatch(body["kid"]) and B64URL.fullmatch(body["hmac_key"])
    assert len(_decoded(body["hmac_key"])) == 32
    assert (body["used_at"], body["account_url"], body["revoked_at"]) == (None, None, None)
    stored = EabCredential.objects.get(kid=body["kid"])
    assert stored.service_account_id == account.pk and stored.created_by_id == admin_a.pk
    assert body["hmac_key"] not in stored.hmac_key  # a Fernet token, not the key
    assert keystore.decrypt(stored.hmac_key) == body["hmac_key"]
    entry = AuditLog.objects.get(action="acme_eab_create")
    assert (entry.resource_type, entry.resource_id, entry.organization_id) == (
        "service_account",
        account.pk,
        account.organization_id,
    )
    assert body["kid"] in entry.detail and body["hmac_key"] not in entry.detail


def test_each_binding_is_new(client_for, admin_a, account):
    client = client_for(admin_a)

    made = [client.post(_url(account)).json() for _ in range(4)]

    assert len({m["kid"] for m in made}) == 4 and len({m["hmac_key"] for m in made}) == 4


def test_the_list_shows_bindings_without_their_keys(client_for, admin_a, account):
    client = client_for(admin_a)
    made = [client.post(_url(account)).json() for _ in range(2)]
    other = make_account(account.organization, "other-bot")
    client.post(_url(other))

    response = client.get(_url(account))

    assert response.status_code == 200
    assert [item["kid"] for item in response.json()] == [m["kid"] for m in made]
    assert all("hmac_key" not in item for item in response.json())
    assert response["X-Total-Count"] == "2"


def test_revoking_a_binding(client_for, admin_a, account):
    client = client_for(admin_a)
    kid = client.post(_url(account)).json()["kid"]

    assert client.delete(_url(account, f"/{kid}")).status_code == 204
    assert client.delete(_url(account, f"/{kid}")).status_code == 204  # again: nothing changes

    assert EabCredential.objects.get(kid=kid).revoked_at is not None
    assert client.get(_url(account)).json()[0]["revoked_at"] is not None
    assert AuditLog.objects.filter(action="acme_eab_revoke").count() == 1


def test_a_binding_is_revoked_only_through_its_own_service_account(client_for, admin_a, account):
    client = client_for(admin_a)
    kid = client.post(_url(account)).json()["kid"]
    other = make_account(account.organization, "other-bot")

    assert client.delete(_url(other, f"/{kid}")).status_code == 404
    assert client.delete(_url(account, "/no-such-kid")).status_code == 404
    assert EabCredential.objects.get(kid=kid).revoked_at is None


@pytest.mark.parametrize(
    ("caller", "expected"),
    [("superuser", 201), ("admin_a", 201), ("admin_b", 403), ("user_a", 403), ("user_a_capable", 403)],
)
def test_who_may_make_a_binding(request, client_for, account, caller, expected):
    response = client_for(request.getfixturevalue(caller)).post(_url(account))

    assert response.status_code == expected
    assert EabCredential.objects.count() == (1 if expected == 201 else 0)


def test_a_service_account_cannot_bind_itself(account):
    response = token_client(account).post(_url(account))

    assert response.status_code == 403
    assert not EabCredential.objects.exists()


def test_deleting_the_service_account_deletes_its_bindings(client_for, admin_a, account):
    client_for(admin_a).post(_url(account))

    assert client_for(admin_a).delete(f"{API}/service-accounts/{account.pk}").status_code == 204
    assert not EabCredential.objects.exists()


def test_keys_and_kids_never_start_with_a_dash(client_for, admin_a, account, monkeypatch):
    """A value starting with "-" is taken for an option by certbot's command line."""
    drawn = iter([b"\xf8" * 32, b"\x01" * 32, b"\xf8" * 18, b"\x02" * 18])  # "-..." first, each time
    monkeypatch.setattr(services.secrets, "token_bytes", lambda n: next(drawn))

    body = client_for(admin_a).post(_url(account)).json()

    assert not body["hmac_key"].startswith("-") and not body["kid"].startswith("-")
    assert _decoded(body["hmac_key"]) == b"\x01" * 32 and _decoded(body["kid"]) == b"\x02" * 18
