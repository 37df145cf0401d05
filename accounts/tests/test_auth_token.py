"""`POST /api/v1/auth/token`: the password login, its failures, its audit entries and its timing."""

from __future__ import annotations

import statistics
import time
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from accounts.models import AuthSession, User
from audit.models import AuditAction, AuditLog
from tests.factories import PASSWORD, UserFactory

TOKEN_URL = "/api/v1/auth/token"


def form_login(client: APIClient, data: dict[str, str], *, url: str = TOKEN_URL):
    """A real `application/x-www-form-urlencoded` body, as FastPKI's client sends it."""
    return client.post(url, urlencode(data), content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize("url", [TOKEN_URL, TOKEN_URL + "/"], ids=["no-slash", "slash"])
def test_login_answers_a_bearer_token_pair(anon, user_a, url):
    response = form_login(anon, {"username": "carol", "password": PASSWORD}, url=url)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type"}
    assert body["token_type"] == "bearer"
    assert body["access_token"] != body["refresh_token"]
    assert AuthSession.objects.filter(user=user_a, revoked_at__isnull=True).count() == 1


def test_the_access_token_from_login_authenticates(anon, user_a):
    access = form_login(anon, {"username": "carol", "password": PASSWORD}).json()["access_token"]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    response = client.get("/api/v1/users/me")

    assert response.status_code == 200
    assert response.json()["username"] == "carol"


@pytest.fixture
def inactive_user(db) -> User:
    return UserFactory(username="frank", is_active=False)


BAD_CREDENTIALS = {
    "wrong-password": ("carol", "not-the-password"),
    "unknown-user": ("nobody", PASSWORD),
    "inactive-user": ("frank", PASSWORD),
}


@pytest.mark.parametrize("username, password", BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS.keys())
def test_bad_credentials_are_401_with_bearer_challenge(anon, user_a, inactive_user, username, password):
    response = form_login(anon, {"username": username, "password": password})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"]
    assert not AuthSession.objects.exists()


def test_bad_credentials_all_answer_the_same_body(anon, user_a, inactive_user):
    bodies = {
        name: form_login(anon, {"username": u, "password": p}).content for name, (u, p) in BAD_CREDENTIALS.items()
    }

    assert len(set(bodies.values())) == 1, bodies


MISSING_FIELDS = {
    "no-username": ({"password": PASSWORD}, {"username"}),
    "no-password": ({"username": "carol"}, {"password"}),
    "empty-body": ({}, {"username", "password"}),
    "blank-username": ({"username": "", "password": PASSWORD}, {"username"}),
    "blank-password": ({"username": "carol", "password": ""}, {"password"}),
}


@pytest.mark.parametrize("data, fields", MISSING_FIELDS.values(), ids=MISSING_FIELDS.keys())
def test_missing_fields_are_refused_naming_them(anon, user_a, data, fields):
    response = form_login(anon, data)

    assert response.status_code in (400, 422)
    body = response.json()
    assert set(body["errors"]) == fields
    for name in fields:
        assert name in body["detail"]


def test_successful_login_is_audited(anon, user_a):
    form_login(anon, {"username": "carol", "password": PASSWORD})

    entry = AuditLog.objects.get(action=AuditAction.LOGIN_SUCCESS)
    assert (entry.username, entry.user_id, entry.organization_id) == ("carol", user_a.pk, user_a.organization_id)
    assert not AuditLog.objects.filter(action=AuditAction.LOGIN_FAILURE).exists()


@pytest.mark.parametrize("username, password", BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS.keys())
def test_failed_login_is_audited_with_the_username(anon, user_a, inactive_user, username, password):
    form_login(anon, {"username": username, "password": password})

    entry = AuditLog.objects.get(action=AuditAction.LOGIN_FAILURE)
    assert entry.username == username
    assert entry.user_id is None  # nobody was authenticated
    assert not AuditLog.objects.filter(action=AuditAction.LOGIN_SUCCESS).exists()


def test_failed_login_audit_never_records_the_password(anon, user_a):
    form_login(anon, {"username": "carol", "password": "s3cret-guess-123"})

    entry = AuditLog.objects.get(action=AuditAction.LOGIN_FAILURE)
    assert "s3cret-guess-123" not in f"{entry.username} {entry.detail}"


def _median_login_seconds(client: APIClient, username: str, password: str, rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = form_login(client, {"username": username, "password": password})
        timings.append(time.perf_counter() - started)
        assert response.status_code == 401
    return statistics.median(timings)


def test_unknown_user_and_wrong_password_take_similar_time(anon, user_a, settings):
    # Django's ModelBackend hashes the password of an unknown user too, so both failures cost one
    # Argon2 run. The bound is deliberately loose (0.5-2x): it catches a missing hash (a ~100x gap)
    # without flaking on a busy CI machine. It is not a speed target.
    assert settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    assert user_a.password.startswith("argon2$")  # else the wrong-password side would skip hashing
    form_login(anon, {"username": "nobody", "password": "warm-up-guess"})  # first-call costs off the clock
    form_login(anon, {"username": "carol", "password": "warm-up-guess"})

    unknown = _median_login_seconds(anon, "nobody", "wrong-guess-1", rounds=5)
    wrong_password = _median_login_seconds(anon, "carol", "wrong-guess-1", rounds=5)

    ratio = unknown / wrong_password
    print(
        f"median unknown user {unknown * 1000:.1f} ms, wrong password {wrong_password * 1000:.1f} ms, ratio {ratio:.2f}"
    )
    assert 0.5 <= ratio <= 2.0
