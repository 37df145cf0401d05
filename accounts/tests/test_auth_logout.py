"""Ending sessions: logout, sign-out everywhere, and what a password change or deactivation kills."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import AuthSession, User
from accounts.tokens import TokenPair, session_start

LOGOUT_URL = "/api/v1/auth/logout"
INVALIDATE_URL = "/api/v1/auth/invalidate"


def bearer(access_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return client


def me_status(pair: TokenPair) -> int:
    return bearer(pair.access_token).get("/api/v1/users/me").status_code


def refresh_status(pair: TokenPair) -> int:
    return APIClient().post("/api/v1/auth/refresh", {"refresh_token": pair.refresh_token}, format="json").status_code


def assert_dead(pair: TokenPair) -> None:
    assert me_status(pair) == 401
    assert refresh_status(pair) == 401


def assert_alive(pair: TokenPair) -> None:
    # Access first: a successful refresh rotates the pair and would end the old access token.
    assert me_status(pair) == 200
    assert refresh_status(pair) == 200


@pytest.mark.parametrize("url", [LOGOUT_URL, LOGOUT_URL + "/"], ids=["no-slash", "slash"])
def test_logout_ends_this_session_at_once(user_a, url):
    pair = session_start(user=user_a)

    response = bearer(pair.access_token).post(url)

    assert response.status_code == 204
    assert not response.content
    assert_dead(pair)
    assert AuthSession.objects.get(user=user_a).revoked_reason == "logout"


def test_logout_leaves_the_users_other_sessions_alone(user_a):
    leaving, staying = session_start(user=user_a), session_start(user=user_a)

    bearer(leaving.access_token).post(LOGOUT_URL)

    assert_alive(staying)


def test_logging_out_twice_is_refused(user_a):
    pair = session_start(user=user_a)
    client = bearer(pair.access_token)
    assert client.post(LOGOUT_URL).status_code == 204

    response = client.post(LOGOUT_URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("url", [LOGOUT_URL, INVALIDATE_URL])
def test_ending_sessions_needs_a_token(anon, url):
    response = anon.post(url)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("url", [INVALIDATE_URL, INVALIDATE_URL + "/"], ids=["no-slash", "slash"])
def test_invalidate_ends_every_session_of_the_caller(user_a, user_b, url):
    caller, elsewhere, another = (session_start(user=user_a) for _ in range(3))
    stranger = session_start(user=user_b)

    response = bearer(caller.access_token).post(url)

    assert response.status_code == 204
    for pair in caller, elsewhere, another:
        assert_dead(pair)  # the access tokens too: they name a session, and every session is closed
    assert set(AuthSession.objects.filter(user=user_a).values_list("revoked_reason", flat=True)) == {"invalidate"}
    assert_alive(stranger)


@pytest.fixture
def sessions_of_user_a(user_a) -> list[TokenPair]:
    return [session_start(user=user_a) for _ in range(2)]


NEW_PASSWORD = "a-brand-new-passphrase-42"


@pytest.mark.parametrize("actor", ["user_a", "admin_a", "superuser"])
def test_password_change_kills_every_session_of_the_user(request, user_a, user_b, sessions_of_user_a, actor):
    actor_client = bearer(session_start(user=request.getfixturevalue(actor)).access_token)
    bystander = session_start(user=user_b)

    response = actor_client.patch(f"/api/v1/users/{user_a.pk}", {"password": NEW_PASSWORD}, format="json")

    assert response.status_code == 200, response.content
    for pair in sessions_of_user_a:
        assert_dead(pair)
    assert_alive(bystander)
    user_a.refresh_from_db()
    assert user_a.check_password(NEW_PASSWORD)


def test_email_change_keeps_the_sessions(user_a, sessions_of_user_a):
    # The control for the test above: only a password change signs the user out.
    response = bearer(sessions_of_user_a[0].access_token).patch(
        f"/api/v1/users/{user_a.pk}", {"email": "carol.new@example.com"}, format="json"
    )

    assert response.status_code == 200
    for pair in sessions_of_user_a:
        assert_alive(pair)


def test_deactivation_by_a_superuser_kills_every_session(superuser, user_a, user_b, sessions_of_user_a):
    bystander = session_start(user=user_b)

    response = bearer(session_start(user=superuser).access_token).patch(
        f"/api/v1/users/{user_a.pk}", {"is_active": False}, format="json"
    )

    assert response.status_code == 200, response.content
    for pair in sessions_of_user_a:
        assert_dead(pair)
    assert set(AuthSession.objects.filter(user=user_a).values_list("revoked_reason", flat=True)) == {"deactivated"}
    assert_alive(bystander)


def test_reactivated_user_does_not_get_old_sessions_back(superuser, user_a, sessions_of_user_a):
    admin = bearer(session_start(user=superuser).access_token)
    admin.patch(f"/api/v1/users/{user_a.pk}", {"is_active": False}, format="json")

    assert admin.patch(f"/api/v1/users/{user_a.pk}", {"is_active": True}, format="json").status_code == 200

    assert User.objects.get(pk=user_a.pk).is_active
    for pair in sessions_of_user_a:
        assert_dead(pair)
