"""`/service-accounts/{id}/tokens`: minted once, stored as a hash, listed without secrets, revoked."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditLog
from serviceaccounts.models import ServiceAccountToken
from serviceaccounts.tests.conftest import API, make_account

TOKEN_RE = re.compile(r"pkisa_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


@pytest.fixture
def account(org_a):
    return make_account(org_a)


def _url(account, suffix: str = "") -> str:
    return f"{API}/service-accounts/{account.pk}/tokens{suffix}"


def test_mint_answers_the_token_once_and_stores_only_its_hash(client_for, admin_a, account):
    expires = (timezone.now() + timedelta(days=30)).replace(microsecond=0)

    response = client_for(admin_a).post(_url(account), {"name": "gitlab-ci", "expires_at": expires.isoformat()})

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "public_id", "name", "created_at", "last_used_at", "expires_at", "revoked", "token"}
    match = TOKEN_RE.fullmatch(body["token"])
    assert match, body["token"]
    public_id, secret = match.groups()
    assert (body["public_id"], body["name"], body["revoked"]) == (public_id, "gitlab-ci", False)
    stored = ServiceAccountToken.objects.get(pk=body["id"])
    assert stored.expires_at == expires
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(stored.__dict__)
    entry = AuditLog.objects.get(action="service_account_token_create")
    assert public_id in entry.detail and secret not in entry.detail


def test_an_empty_body_mints_an_unnamed_token_that_never_expires(client_for, admin_a, account):
    body = client_for(admin_a).post(_url(account) + "/", {}).json()

    assert (body["name"], body["expires_at"]) == (None, None)


def test_every_token_is_different_and_carries_256_bits(client_for, admin_a, account):
    client = client_for(admin_a)

    tokens = [client.post(_url(account), {}).json()["token"] for _ in range(5)]

    assert len(set(tokens)) == 5
    assert len({TOKEN_RE.fullmatch(t).group(1) for t in tokens}) == 5
    # 43 base64url characters carry 258 bits; token_urlsafe(32) fills 256 of them.
    assert all(len(TOKEN_RE.fullmatch(t).group(2)) == 43 for t in tokens)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"expires_at": "yesterday"}, "expires_at"),
        ({"expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x" * 101}, "name"),
    ],
)
def test_invalid_mint_is_400(client_for, admin_a, account, body, field):
    response = client_for(admin_a).post(_url(account), body)

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not ServiceAccountToken.objects.exists()


def test_list_shows_metadata_never_the_secret(client_for, admin_a, account):
    client = client_for(admin_a)
    first = client.post(_url(account), {"name": "one"}).json()
    second = client.post(_url(account), {"name": "two"}).json()
    client.delete(_url(account, f"/{first['id']}"))

    response = client.get(_url(account))

    assert response.status_code == 200
    rows = response.json()
    assert [(r["id"], r["name"], r["revoked"]) for r in rows] == [
        (first["id"], "one", True),
        (second["id"], "two", False),
    ]
    assert all(
        set(r) == {"id", "public_id", "name", "created_at", "last_used_at", "expires_at", "revoked"} for r in rows
    )
    assert first["token"] not in response.content.decode()
    assert response["X-Total-Count"] == "2"


def test_revoke_is_204_and_idempotent(client_for, admin_a, account):
    client = client_for(admin_a)
    token = client.post(_url(account), {}).json()

    first = client.delete(_url(account, f"/{token['id']}"))
    again = client.delete(_url(account, f"/{token['id']}/"))

    assert (first.status_code, again.status_code) == (204, 204)
    assert ServiceAccountToken.objects.get(pk=token["id"]).revoked_at is not None
    assert AuditLog.objects.filter(action="service_account_token_revoke").count() == 1


def test_a_token_of_another_account_is_404_and_stays_alive(client_for, admin_a, org_a, account):
    other = make_account(org_a, "other")
    client = client_for(admin_a)
    token = client.post(_url(other), {}).json()

    response = client.delete(_url(account, f"/{token['id']}"))

    assert response.status_code == 404
    assert ServiceAccountToken.objects.get(pk=token["id"]).revoked_at is None


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("superuser", 201), ("admin_a", 201), ("admin_b", 403), ("user_a", 403), ("user_a_capable", 403)],
)
def test_who_may_mint(request, client_for, account, persona, expected):
    response = client_for(request.getfixturevalue(persona)).post(_url(account), {})

    assert response.status_code == expected
    assert ServiceAccountToken.objects.exists() is (expected == 201)


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("superuser", 204), ("admin_a", 204), ("admin_b", 403), ("user_a", 403)],
)
def test_who_may_revoke(request, client_for, superuser, account, persona, expected):
    token = client_for(superuser).post(_url(account), {}).json()

    response = client_for(request.getfixturevalue(persona)).delete(_url(account, f"/{token['id']}"))

    assert response.status_code == expected
    assert ServiceAccountToken.objects.get(pk=token["id"]).revoked is (expected == 204)


def test_anonymous_callers_get_401(anon, account):
    assert anon.get(_url(account)).status_code == 401
    assert anon.post(_url(account), {}).status_code == 401
