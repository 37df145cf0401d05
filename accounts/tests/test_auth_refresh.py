"""`POST /api/v1/auth/refresh`: rotation, reuse detection, refusals, and refresh tokens kept hashed."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import jwt
import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuthSession
from accounts.tokens import TokenPair, session_start
from tests.factories import PASSWORD

REFRESH_URL = "/api/v1/auth/refresh"


def refresh(token: object, *, url: str = REFRESH_URL):
    return APIClient().post(url, {"refresh_token": token}, format="json")


def me_status(access_token: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return client.get("/api/v1/users/me").status_code


def assert_refused(response) -> None:
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"]


@pytest.fixture
def pair(user_a) -> TokenPair:
    return session_start(user=user_a)


@pytest.mark.parametrize("url", [REFRESH_URL, REFRESH_URL + "/"], ids=["no-slash", "slash"])
def test_refresh_answers_a_new_working_pair(pair, url):
    response = refresh(pair.refresh_token, url=url)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type"}
    assert body["token_type"] == "bearer"
    assert body["refresh_token"] != pair.refresh_token
    assert body["access_token"] != pair.access_token
    assert me_status(body["access_token"]) == 200


def test_refresh_keeps_the_identity_claims(pair, user_a):
    new = refresh(pair.refresh_token).json()

    for token in new["access_token"], new["refresh_token"]:
        claims = jwt.decode(token, settings.SECRET_KEY, algorithms=["HS256"])
        assert (claims["sub"], claims["id"], claims["role"]) == ("carol", user_a.pk, user_a.role)


def test_rotation_can_go_on(pair):
    token = pair.refresh_token
    for _ in range(3):
        response = refresh(token)
        assert response.status_code == 200
        token = response.json()["refresh_token"]


def test_the_rotated_refresh_token_is_dead(pair):
    assert refresh(pair.refresh_token).status_code == 200

    assert_refused(refresh(pair.refresh_token))


def test_reusing_a_rotated_token_kills_the_whole_family(pair, user_a):
    rotated = refresh(pair.refresh_token).json()
    assert me_status(rotated["access_token"]) == 200

    assert_refused(refresh(pair.refresh_token))  # the thief (or the victim) replays the old token

    assert_refused(refresh(rotated["refresh_token"]))
    assert me_status(rotated["access_token"]) == 401
    assert me_status(pair.access_token) == 401
    assert AuthSession.objects.get(user=user_a).revoked_reason == "reuse"


def test_reuse_in_one_family_leaves_other_sessions_alone(pair, user_a):
    other = session_start(user=user_a)
    refresh(pair.refresh_token)
    refresh(pair.refresh_token)

    assert me_status(other.access_token) == 200
    assert refresh(other.refresh_token).status_code == 200


def _resigned_refresh(pair: TokenPair, **changes: object) -> str:
    claims = {**jwt.decode(pair.refresh_token, options={"verify_signature": False}), **changes}
    return jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")


def _expired_refresh(pair: TokenPair) -> str:
    return _resigned_refresh(pair, exp=int((timezone.now() - timedelta(minutes=1)).timestamp()))


REFUSED = {
    "access-token": lambda p: p.access_token,
    "garbage": lambda p: "garbage",
    "garbage-three-dots": lambda p: "a.b.c",
    "other-key": lambda p: jwt.encode(
        jwt.decode(p.refresh_token, options={"verify_signature": False}),
        "another-secret-key-of-sufficient-length-xyz",
        algorithm="HS256",
    ),
    "expired": _expired_refresh,
    "sid-not-a-uuid": lambda p: _resigned_refresh(p, sid="not-a-uuid"),
    "no-sid": lambda p: _resigned_refresh(p, sid=None),
    "number": lambda p: 12345,
}


@pytest.mark.parametrize("make_token", REFUSED.values(), ids=REFUSED.keys())
def test_refresh_refuses_what_is_not_a_live_refresh_token(pair, make_token):
    assert_refused(refresh(make_token(pair)))

    assert refresh(pair.refresh_token).status_code == 200  # the real one was not harmed


def test_refresh_token_dies_when_its_lifetime_ends(user_a):
    lifetime = timedelta(minutes=settings.REFRESH_TOKEN_EXPIRE_MINUTES)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        token = session_start(user=user_a).refresh_token
        traveller.shift(lifetime + timedelta(seconds=1))

        assert_refused(refresh(token))


MALFORMED = {
    "missing-field": {},
    "blank": {"refresh_token": ""},
    "null": {"refresh_token": None},
    "wrong-name": {"token": "x"},
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_refresh_body_is_400_naming_the_field(db, body):
    response = APIClient().post(REFRESH_URL, body, format="json")

    assert response.status_code == 400
    assert "refresh_token" in response.json()["errors"]


def test_refresh_of_a_deactivated_user_is_refused(pair, user_a):
    user_a.is_active = False
    user_a.save()

    assert_refused(refresh(pair.refresh_token))


def _every_stored_text() -> str:
    """Every value of every row of every table, as one string (raw SQL, so nothing is skipped)."""
    quote = connection.ops.quote_name
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {quote(table)}")
            for row in cursor.fetchall():
                chunks.extend(bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v) for v in row)
    return "\n".join(chunks)


def _every_model_field_text() -> str:
    chunks = []
    for model in apps.get_models():
        for row in model._base_manager.values_list(*(f.attname for f in model._meta.concrete_fields)):
            chunks.extend(str(v) for v in row)
    return "\n".join(chunks)


def test_refresh_tokens_are_never_stored_in_clear(anon, user_a):
    body = urlencode({"username": "carol", "password": PASSWORD})
    login = anon.post("/api/v1/auth/token", body, content_type="application/x-www-form-urlencoded").json()
    rotated = refresh(login["refresh_token"]).json()

    for dump in _every_stored_text(), _every_model_field_text():
        assert "carol" in dump  # the dump does reach the data
        for token in login["refresh_token"], rotated["refresh_token"]:
            jti = jwt.decode(token, options={"verify_signature": False})["jti"]
            signature = token.rsplit(".", 1)[1]
            for secret in token, jti, signature:
                assert secret not in dump
