"""Access and refresh JWTs: their claims and lifetimes, and every forged or stale token refused."""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

import jwt
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuthSession, Role, User
from accounts.tokens import TokenPair, session_start
from tests.factories import PASSWORD

ME_URL = "/api/v1/users/me"


def _unverified(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _sign(claims: dict, *, key: str, algorithm: str) -> str:
    with warnings.catch_warnings():  # a short test key is the point of some cases, not a mistake
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm=algorithm)


def get_me(authorization: str | None):
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client.get(ME_URL)


@pytest.fixture
def login_pair(anon, user_a) -> dict:
    """A pair from the real password login (one Argon2 run)."""
    body = urlencode({"username": "carol", "password": PASSWORD})
    response = anon.post("/api/v1/auth/token", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    return response.json()


def test_access_token_carries_the_spec_claims(login_pair, user_a):
    claims = _unverified(login_pair["access_token"])

    assert claims["sub"] == "carol"
    assert claims["id"] == user_a.pk
    assert claims["role"] == Role.USER
    assert claims["token_type"] == "access"
    assert isinstance(claims["jti"], str) and claims["jti"]
    assert isinstance(claims["iat"], int) and isinstance(claims["exp"], int)


def test_tokens_are_signed_with_the_pinned_algorithm(login_pair):
    assert settings.ALGORITHM == "HS256"
    for token in login_pair["access_token"], login_pair["refresh_token"]:
        assert jwt.get_unverified_header(token)["alg"] == "HS256"
        jwt.decode(token, settings.SECRET_KEY, algorithms=["HS256"])  # raises if the signature is wrong


def test_token_lifetimes_follow_the_settings(login_pair, user_a):
    access = _unverified(login_pair["access_token"])
    refresh = _unverified(login_pair["refresh_token"])

    assert access["exp"] - access["iat"] == settings.ACCESS_TOKEN_EXPIRE_MINUTES * 60
    assert refresh["exp"] - refresh["iat"] == settings.REFRESH_TOKEN_EXPIRE_MINUTES * 60
    assert refresh["token_type"] == "refresh"
    assert refresh["jti"] != access["jti"]
    session = AuthSession.objects.get(user=user_a)
    assert session.refresh_expires_at.timestamp() == refresh["exp"]


@pytest.fixture
def pair(user_a) -> TokenPair:
    return session_start(user=user_a)


def _resigned(pair: TokenPair, *, key: str | None = None, algorithm: str = "HS256", **changes: object) -> str:
    claims = {**_unverified(pair.access_token), **changes}
    return _sign(claims, key=key or settings.SECRET_KEY, algorithm=algorithm)


def _alg_none(pair: TokenPair) -> str:
    header, claims = {"alg": "none", "typ": "JWT"}, _unverified(pair.access_token)
    return f"{_b64(header)}.{_b64(claims)}."


def _tampered(pair: TokenPair, **changes: object) -> str:
    header, _, signature = pair.access_token.split(".")
    return f"{header}.{_b64({**_unverified(pair.access_token), **changes})}.{signature}"


def _expired(pair: TokenPair) -> str:
    past = int((timezone.now() - timedelta(minutes=1)).timestamp())
    return _resigned(pair, iat=past - 900, exp=past)


HOSTILE: dict[str, Callable[[TokenPair, User], str | None]] = {
    "no-header": lambda p, u: None,
    "empty-header": lambda p, u: "",
    "bearer-without-token": lambda p, u: "Bearer",
    "wrong-scheme": lambda p, u: f"Token {p.access_token}",
    "basic-scheme": lambda p, u: "Basic Y2Fyb2w6cGFzc3dvcmQ=",
    "three-parts": lambda p, u: f"Bearer {p.access_token} extra",
    "garbage": lambda p, u: "Bearer not-a-jwt",
    "garbage-three-dots": lambda p, u: "Bearer a.b.c",
    "alg-none": lambda p, u: f"Bearer {_alg_none(p)}",
    "other-key": lambda p, u: f"Bearer {_resigned(p, key='another-secret-key-of-sufficient-length-xyz')}",
    "hs512-same-key": lambda p, u: f"Bearer {_resigned(p, algorithm='HS512')}",
    "hs384-same-key": lambda p, u: f"Bearer {_resigned(p, algorithm='HS384')}",
    "tampered-role": lambda p, u: f"Bearer {_tampered(p, role=Role.SUPERUSER)}",
    "tampered-id": lambda p, u: f"Bearer {_tampered(p, id=u.pk + 1000)}",
    "tampered-exp": lambda p, u: f"Bearer {_tampered(p, exp=_unverified(p.access_token)['exp'] + 86400)}",
    "expired": lambda p, u: f"Bearer {_expired(p)}",
    "refresh-as-access": lambda p, u: f"Bearer {p.refresh_token}",
    "no-session-claim": lambda p, u: f"Bearer {_resigned(p, sid=None)}",
    "unknown-session": lambda p, u: f"Bearer {_resigned(p, sid='00000000-0000-4000-8000-000000000000')}",
    # Signed with the real key, so only the claim's shape is wrong: still 401, not a 400 or 500.
    "sid-not-a-uuid": lambda p, u: f"Bearer {_resigned(p, sid='not-a-uuid')}",
    "sid-a-list": lambda p, u: f"Bearer {_resigned(p, sid=['x'])}",
}


def test_the_untouched_token_is_accepted(pair):
    # The control for the table below: the same helpers, no hostility, 200.
    assert get_me(f"Bearer {pair.access_token}").status_code == 200


@pytest.mark.parametrize("make_header", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_authorization_is_401_with_bearer_challenge(pair, user_a, make_header):
    response = get_me(make_header(pair, user_a))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"]


def test_access_token_dies_when_its_lifetime_ends(user_a):
    lifetime = timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        access = session_start(user=user_a).access_token
        traveller.shift(lifetime - timedelta(seconds=1))
        assert get_me(f"Bearer {access}").status_code == 200
        traveller.shift(timedelta(seconds=2))
        response = get_me(f"Bearer {access}")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_access_token_of_a_deleted_user_is_refused(pair, user_a):
    user_a.delete()

    response = get_me(f"Bearer {pair.access_token}")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_access_token_of_a_deactivated_user_is_refused(pair, user_a):
    # Straight to the database, so the session is still open: the user's flag alone must stop it.
    User.objects.filter(pk=user_a.pk).update(is_active=False)

    response = get_me(f"Bearer {pair.access_token}")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_access_token_names_the_session_of_its_own_user(user_a, user_b):
    # A session id belongs to one user: a token of user_b's id on user_a's session is refused.
    # (Only someone holding the signing key could mint it; the check is defence in depth.)
    pair_a = session_start(user=user_a)

    response = get_me(f"Bearer {_resigned(pair_a, id=user_b.pk, sub=user_b.username)}")

    assert response.status_code == 401
