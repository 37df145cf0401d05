"""Tenancy comes before authorship, and a move between organizations clears a user's flags and
ends every session (SPEC §5): the creator of a CA keeps no right over it once out of its
organization, and an admin of another organization cannot reach it through that user."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import CAPABILITY_FLAGS, Role, User
from audit.models import AuditLog
from certificates.tests.conftest import FAST_KEY
from tests.factories import PASSWORD, UserFactory

API = "/api/v1"
ALL_FLAGS = dict.fromkeys(CAPABILITY_FLAGS, True)


def login(username: str, password: str = PASSWORD) -> APIClient:
    """A client holding an access token from the real token endpoint."""
    response = APIClient().post(f"{API}/auth/token", {"username": username, "password": password})
    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    return client


def console(username: str, password: str = PASSWORD) -> Client:
    client = Client()
    form = {"username": username, "password": password, "next": reverse("admin:index")}
    response = client.post(reverse("admin:login"), form, follow=True)
    assert response.wsgi_request.user.is_authenticated, "console sign-in failed"
    return client


def in_console(client: Client) -> bool:
    return client.get(reverse("admin:index")).status_code == 200


def ca_routes(ca_id: int) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    return {
        "view": ("get", f"{API}/cas/{ca_id}", None),
        "chain": ("get", f"{API}/cas/{ca_id}/chain", None),
        "private key": ("get", f"{API}/cas/{ca_id}/private-key", None),
        "export key": ("get", f"{API}/export/ca/{ca_id}/private-key", None),
        "issue": (
            "post",
            f"{API}/certificates/?ca_id={ca_id}",
            {
                "common_name": "x.example.com",
                "subject_dn": "CN=x.example.com",
                "certificate_type": "server",
                **FAST_KEY,
            },
        ),
        "delete": ("delete", f"{API}/cas/{ca_id}", None),
    }


def call(client: APIClient, route: tuple[str, str, dict[str, Any] | None]) -> int:
    method, path, body = route
    return getattr(client, method)(path, body, format="json").status_code


@pytest.fixture
def scenario(client_for, admin_a, org_a):
    """Org A's admin makes a user with can_create_ca, who logs in and creates CA X."""
    made = client_for(admin_a).post(
        f"{API}/users/",
        {"username": "mallory", "email": "m@example.com", "password": PASSWORD, **ALL_FLAGS},
        format="json",
    )
    assert made.status_code == 201, made.json()
    mallory = User.objects.get(username="mallory")
    assert mallory.organization_id == org_a.pk and mallory.can_create_ca
    client = login("mallory")
    created = client.post(f"{API}/cas/", {"name": "X", "subject_dn": "CN=X", **FAST_KEY}, format="json")
    assert created.status_code == 201, created.json()
    return mallory, created.json()["id"], client


@pytest.mark.parametrize("route", ["view", "chain", "private key", "export key", "issue", "delete"])
def test_a_creator_removed_from_the_organization_loses_the_ca(client_for, admin_a, org_a, scenario, route):
    mallory, ca_id, _ = scenario
    assert client_for(admin_a).delete(f"{API}/organizations/{org_a.pk}/users/{mallory.pk}").status_code == 200

    status = call(login("mallory"), ca_routes(ca_id)[route])

    assert status == 403


def test_another_organizations_admin_cannot_reach_the_ca_through_the_user(
    client_for, admin_a, admin_b, org_a, org_b, scenario
):
    mallory, ca_id, _ = scenario
    assert client_for(admin_a).delete(f"{API}/organizations/{org_a.pk}/users/{mallory.pk}").status_code == 200
    admin_b_api = client_for(admin_b)
    assert admin_b_api.post(f"{API}/organizations/{org_b.pk}/users/{mallory.pk}").status_code == 200
    # Org B's admin hands out flags and a new password, then acts as the user.
    patched = admin_b_api.patch(
        f"{API}/users/{mallory.pk}", {"password": "another-Passw0rd!", **ALL_FLAGS}, format="json"
    )
    assert patched.status_code == 200, patched.json()

    as_mallory = login("mallory", "another-Passw0rd!")

    for name, route in ca_routes(ca_id).items():
        assert call(as_mallory, route) == 403, name


def test_removing_a_user_clears_their_flags_and_says_so(client_for, admin_a, org_a, scenario):
    mallory, _, _ = scenario

    answer = client_for(admin_a).delete(f"{API}/organizations/{org_a.pk}/users/{mallory.pk}")

    assert answer.status_code == 200
    assert all(answer.json()[flag] is False for flag in CAPABILITY_FLAGS)
    mallory.refresh_from_db()
    assert not any(getattr(mallory, flag) for flag in CAPABILITY_FLAGS)
    entry = AuditLog.objects.filter(action="org_remove_user", resource_id=mallory.pk).get()
    assert "capability flags cleared" in entry.detail and "can_create_ca" in entry.detail


def test_adding_a_user_from_another_organization_clears_their_flags(client_for, superuser, org_b):
    moved = UserFactory(username="mover", organization=None, **ALL_FLAGS)

    answer = client_for(superuser).post(f"{API}/organizations/{org_b.pk}/users/{moved.pk}")

    assert answer.status_code == 200
    moved.refresh_from_db()
    assert moved.organization_id == org_b.pk
    assert not any(getattr(moved, flag) for flag in CAPABILITY_FLAGS)


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        ({}, set()),
        ({"can_create_cert": True}, {"can_create_cert"}),
        ({"can_create_ca": True, "can_delete_ca": True}, {"can_create_ca", "can_delete_ca"}),
    ],
    ids=["nothing-kept", "one-set-again", "two-set-again"],
)
def test_a_superuser_move_clears_flags_but_those_it_sets(client_for, superuser, org_a, org_b, body, kept):
    user = UserFactory(username="mover", organization=org_a, **ALL_FLAGS)

    answer = client_for(superuser).patch(f"{API}/users/{user.pk}", {"organization_id": org_b.pk, **body}, format="json")

    assert answer.status_code == 200, answer.json()
    user.refresh_from_db()
    assert {flag for flag in CAPABILITY_FLAGS if getattr(user, flag)} == kept
    entry = AuditLog.objects.filter(action="user_update", resource_id=user.pk).latest("id")
    assert ("capability flags cleared" in entry.detail) == (len(kept) < len(CAPABILITY_FLAGS))


@pytest.mark.parametrize("how", ["same-organization-id", "flags-only"])
def test_the_same_organization_again_is_not_a_move(client_for, superuser, org_a, how):
    user = UserFactory(username="stayer", organization=org_a, **ALL_FLAGS)
    token_client = login("stayer")
    body = {"organization_id": org_a.pk} if how == "same-organization-id" else {"can_create_ca": True}

    answer = client_for(superuser).patch(f"{API}/users/{user.pk}", body, format="json")

    assert answer.status_code == 200, answer.json()
    user.refresh_from_db()
    assert all(getattr(user, flag) for flag in CAPABILITY_FLAGS)
    assert token_client.get(f"{API}/users/me").status_code == 200


# --- every session ends: API tokens and console sessions alike, for good ---------------------------


def _patch_as_superuser(client_for, superuser, user, body):
    answer = client_for(superuser).patch(f"{API}/users/{user.pk}", body, format="json")
    assert answer.status_code == 200, answer.json()


CHANGES = {
    "role": {"role": Role.USER},
    "organization": "move",
    "deactivation": {"is_active": False},
    "password": {"password": "brand-new-Passw0rd!"},
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_ends_api_and_console_sessions(client_for, superuser, org_a, org_b, change):
    person = UserFactory(username="operator", role=Role.ADMIN, organization=org_a)
    api = login("operator")
    refresh = APIClient().post(f"{API}/auth/token", {"username": "operator", "password": PASSWORD}).json()
    browser = console("operator")
    assert in_console(browser) and api.get(f"{API}/users/me").status_code == 200

    body = CHANGES[change]
    _patch_as_superuser(client_for, superuser, person, {"organization_id": org_b.pk} if body == "move" else body)

    assert api.get(f"{API}/users/me").status_code == 401
    assert (
        APIClient().post(f"{API}/auth/refresh", {"refresh_token": refresh["refresh_token"]}, format="json").status_code
        == 401
    )
    assert not in_console(browser)


def test_reactivation_does_not_revive_an_old_console_session(client_for, superuser, admin_a):
    browser = console(admin_a.username)
    api = login(admin_a.username)
    assert in_console(browser)

    _patch_as_superuser(client_for, superuser, admin_a, {"is_active": False})
    _patch_as_superuser(client_for, superuser, admin_a, {"is_active": True})

    assert not in_console(browser)
    assert api.get(f"{API}/users/me").status_code == 401
    assert in_console(console(admin_a.username))  # a new sign-in works


def test_removal_from_the_organization_ends_console_sessions(client_for, admin_a, org_a):
    other_admin = UserFactory(username="second_admin", role=Role.ADMIN, organization=org_a)
    browser = console("second_admin")
    superuser = UserFactory(username="root2", role=Role.SUPERUSER)

    answer = client_for(superuser).delete(f"{API}/organizations/{org_a.pk}/users/{other_admin.pk}")

    assert answer.status_code == 200
    assert not in_console(browser)


def test_sign_out_everywhere_ends_the_console_too(admin_a):
    browser = console(admin_a.username)
    api = login(admin_a.username)

    assert api.post(f"{API}/auth/invalidate").status_code == 204

    assert not in_console(browser)


def test_changing_ones_own_password_in_the_console_keeps_that_session(admin_a):
    browser = console(admin_a.username)
    other = console(admin_a.username)
    new = "fresh-Passw0rd-42!"

    answer = browser.post(
        reverse("admin:password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )

    assert answer.status_code == 302, answer.content[:500]
    assert in_console(browser)
    assert not in_console(other)
