"""Bearer service-account tokens: who gets in, who gets 401, and how cheaply it is checked."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from serviceaccounts.authentication import ServiceAccountTokenAuthentication
from serviceaccounts.models import ServiceAccountToken
from serviceaccounts.tests.conftest import API, make_account, token_client

TOKEN_TABLE = ServiceAccountToken._meta.db_table


def _with(header: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client


def _revoke(token: ServiceAccountToken) -> None:
    token.revoked_at = timezone.now()
    token.save()


def _expire(token: ServiceAccountToken) -> None:
    token.expires_at = timezone.now() - timedelta(seconds=1)
    token.save()


def _disable(token: ServiceAccountToken) -> None:
    token.service_account.disabled_at = timezone.now()
    token.service_account.save()


def _wrong_secret(plaintext: str) -> str:
    prefix, secret = plaintext[:-43], plaintext[-43:]
    return prefix + ("A" if secret[0] != "A" else "B") + secret[1:]


# (case, how to spoil the token or the header) -> every one of them is a 401 with a Bearer challenge
REFUSED = [
    ("revoked", lambda token, raw: (_revoke(token), f"Bearer {raw}")[1]),
    ("expired", lambda token, raw: (_expire(token), f"Bearer {raw}")[1]),
    ("account disabled", lambda token, raw: (_disable(token), f"Bearer {raw}")[1]),
    ("wrong secret, right public_id", lambda token, raw: f"Bearer {_wrong_secret(raw)}"),
    ("unknown public_id", lambda token, raw: f"Bearer pkisa_{'0' * 16}_{raw[-43:]}"),
    ("truncated", lambda token, raw: f"Bearer {raw[:-1]}"),
    ("trailing junk", lambda token, raw: f"Bearer {raw}x"),
    ("prefix only", lambda token, raw: "Bearer pkisa_"),
    ("garbage after the prefix", lambda token, raw: "Bearer pkisa_!!not a token!!"),
    ("garbage, no prefix", lambda token, raw: "Bearer garbage"),
    ("not bearer", lambda token, raw: f"Token {raw}"),
    ("no credentials", lambda token, raw: ""),
]


@pytest.fixture
def minted(org_a):
    """(token row, plaintext) of a fresh account of organization A."""
    client = token_client(make_account(org_a, can_create_cert=True))
    return ServiceAccountToken.objects.get(), client.token


def test_a_valid_token_authenticates_as_the_service_account(minted, root_a, root_b):
    _token, raw = minted

    response = _with(f"Bearer {raw}").get(f"{API}/cas/")

    assert response.status_code == 200
    assert [ca["name"] for ca in response.json()] == ["Root A"]  # acts inside its organization


def test_the_authenticated_user_is_the_service_account(rf, minted):
    token, raw = minted
    request = rf.get("/", HTTP_AUTHORIZATION=f"Bearer {raw}")

    user, auth = ServiceAccountTokenAuthentication().authenticate(request)

    assert (user.pk, user.username, user.is_service_account, auth.pk) == (
        token.service_account_id, "sa:deployer", True, token.pk,
    )  # fmt: skip


@pytest.mark.parametrize(("case", "spoil"), REFUSED, ids=[case for case, _ in REFUSED])
def test_refused_tokens_get_401_with_a_bearer_challenge(minted, case, spoil):
    token, raw = minted

    response = _with(spoil(token, raw)).get(f"{API}/cas/")

    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["detail"]


def test_our_class_declines_jwts_so_people_still_log_in(client_for, admin_a, minted):
    assert client_for(admin_a).get(f"{API}/users/me").json()["username"] == admin_a.username


def test_disabling_stops_every_token_at_once_and_enabling_restores_them(client_for, admin_a, minted):
    token, raw = minted
    robot, admin = _with(f"Bearer {raw}"), client_for(admin_a)
    url = f"{API}/service-accounts/{token.service_account_id}"

    assert robot.get(f"{API}/cas/").status_code == 200
    admin.patch(url, {"disabled": True})
    assert robot.get(f"{API}/cas/").status_code == 401
    admin.patch(url, {"disabled": False})
    assert robot.get(f"{API}/cas/").status_code == 200


def test_revocation_through_the_api_takes_effect_at_once(client_for, admin_a, minted):
    token, raw = minted
    robot = _with(f"Bearer {raw}")
    assert robot.get(f"{API}/cas/").status_code == 200

    client_for(admin_a).delete(f"{API}/service-accounts/{token.service_account_id}/tokens/{token.pk}")

    assert robot.get(f"{API}/cas/").status_code == 401


def test_a_token_expiring_later_works_until_then(org_a):
    expires = timezone.now() + timedelta(hours=1)
    client = token_client(make_account(org_a), expires_at=expires)

    assert client.get(f"{API}/cas/").status_code == 200
    with time_machine.travel(expires + timedelta(seconds=1), tick=False):
        assert client.get(f"{API}/cas/").status_code == 401


# --- checking a token is one indexed query; last_used_at is written at most once a minute ----


def _token_queries(ctx: CaptureQueriesContext) -> tuple[list[str], list[str]]:
    sql = [q["sql"] for q in ctx.captured_queries if TOKEN_TABLE in q["sql"]]
    return [s for s in sql if s.lstrip().upper().startswith("SELECT")], [
        s for s in sql if s.lstrip().upper().startswith("UPDATE")
    ]


def test_last_used_at_is_written_once_a_minute_not_on_every_request(minted):
    token, raw = minted
    client = _with(f"Bearer {raw}")
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        with CaptureQueriesContext(connection) as first:
            assert client.get(f"{API}/cas/").status_code == 200
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        with CaptureQueriesContext(connection) as soon_after:
            for _ in range(3):
                assert client.get(f"{API}/cas/").status_code == 200
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        with CaptureQueriesContext(connection) as a_minute_later:
            assert client.get(f"{API}/cas/").status_code == 200

    assert [len(q) for q in _token_queries(first)] == [1, 1]  # one lookup, one write
    selects, updates = _token_queries(soon_after)
    assert (len(selects), updates) == (3, [])  # one indexed lookup each, no write
    assert [len(q) for q in _token_queries(a_minute_later)] == [1, 1]
    token.refresh_from_db()
    assert token.last_used_at == start + timedelta(seconds=61)


def test_the_lookup_is_by_the_unique_public_id(minted):
    _token, raw = minted

    with CaptureQueriesContext(connection) as ctx:
        _with(f"Bearer {raw}").get(f"{API}/cas/")

    (lookup,), _ = _token_queries(ctx)
    assert "public_id" in lookup
    assert ServiceAccountToken._meta.get_field("public_id").unique


def test_concurrent_touches_write_once(minted):
    token, _raw = minted
    now = timezone.now()
    seen_by_one, seen_by_other = ServiceAccountToken.objects.get(), ServiceAccountToken.objects.get()

    wrote = [
        ServiceAccountTokenAuthentication._touch(seen_by_one, now),
        ServiceAccountTokenAuthentication._touch(seen_by_other, now),
    ]

    assert wrote == [True, False]  # the second UPDATE's WHERE no longer matches
    token.refresh_from_db()
    assert token.last_used_at == now


def test_last_used_at_shows_in_the_token_list(client_for, admin_a, minted):
    token, raw = minted
    url = f"{API}/service-accounts/{token.service_account_id}/tokens"
    assert client_for(admin_a).get(url).json()[0]["last_used_at"] is None

    _with(f"Bearer {raw}").get(f"{API}/cas/")

    assert client_for(admin_a).get(url).json()[0]["last_used_at"] is not None
