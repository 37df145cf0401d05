"""`PATCH /api/v1/users/{id}`: who may change which field (SPEC §3), all-or-nothing, sessions."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.forms.models import model_to_dict
from rest_framework.test import APIClient

from accounts.models import CAPABILITY_FLAGS, AuthSession, Role, User
from accounts.services import user_update
from audit.models import AuditAction, AuditLog
from pkiserver.errors import Invalid
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Fresh-Secret-2024"


@pytest.fixture
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def url(user: User) -> str:
    return f"/api/v1/users/{user.pk}"


def snapshot(user: User) -> dict[str, object]:
    user.refresh_from_db()
    return {**model_to_dict(user), "password": user.password, "updated_at": user.updated_at}


def user_update_entries(user: User) -> int:
    return AuditLog.objects.filter(action=AuditAction.USER_UPDATE, resource_id=user.pk).count()


# --- the field table -----------------------------------------------------------------------

# Relationship of the caller to the target `user_a` (a regular user of org A).
CALLERS = {
    "self": "user_a",
    "peer-same-org": "user_a_capable",
    "user-other-org": "user_b",
    "admin-same-org": "admin_a",
    "admin-other-org": "admin_b",
    "superuser": "superuser",
}

# field -> (new value, callers that may change it); written from SPEC §3, not from RULES.
FIELDS: dict[str, tuple[object, set[str]]] = {
    "email": ("carol.new@example.org", {"self", "admin-same-org", "superuser"}),
    "password": (NEW_PASSWORD, {"self", "admin-same-org", "superuser"}),
    **{flag: (True, {"admin-same-org", "superuser"}) for flag in CAPABILITY_FLAGS},
    "role": ("admin", {"superuser"}),
    "is_active": (False, {"superuser"}),
    "organization_id": ("org_b", {"superuser"}),
}

FIELD_TABLE = [
    (relation, field, 200 if relation in allowed else 403)
    for field, (_, allowed) in FIELDS.items()
    for relation in CALLERS
]


@pytest.mark.usefixtures("fast_hasher")
@pytest.mark.parametrize(
    ("relation", "field", "expected"),
    FIELD_TABLE,
    ids=[f"{field}-by-{relation}" for relation, field, _ in FIELD_TABLE],
)
def test_who_may_change_which_field(request, client_for, user_a, org_b, relation, field, expected):
    caller = request.getfixturevalue(CALLERS[relation])
    value = FIELDS[field][0]
    if value == "org_b":
        value = org_b.pk
    client = client_for(caller)
    before = snapshot(user_a)

    response = client.patch(url(user_a), {field: value}, format="json")

    assert response.status_code == expected, response.content
    after = snapshot(user_a)
    if expected == 200:
        if field == "password":
            assert after["password"] != before["password"]
            assert User.objects.get(pk=user_a.pk).check_password(NEW_PASSWORD)
        else:
            assert after[field.removesuffix("_id")] == value
            assert response.json()[field] == value
        assert user_update_entries(user_a) == 1
    else:
        assert after == before
        assert user_update_entries(user_a) == 0
        assert response.json()["detail"]


@pytest.mark.usefixtures("fast_hasher")
@pytest.mark.parametrize(
    ("caller", "body"),
    [
        ("user_a", {"email": "carol.new@example.org", "can_create_ca": True}),
        ("user_a", {"password": NEW_PASSWORD, "role": "admin"}),
        ("admin_a", {"can_create_cert": True, "role": "admin"}),
        ("admin_a", {"email": "carol.new@example.org", "is_active": False}),
        ("admin_a", {"password": NEW_PASSWORD, "organization_id": "org_b"}),
        ("admin_b", {"email": "carol.new@example.org", "can_create_cert": True}),
    ],
    ids=[
        "self-email+flag",
        "self-password+role",
        "admin-flag+role",
        "admin-email+is_active",
        "admin-password+org",
        "other-admin",
    ],
)
def test_one_forbidden_field_refuses_the_whole_request(request, client_for, user_a, org_b, caller, body):
    body = {key: (org_b.pk if value == "org_b" else value) for key, value in body.items()}
    client = client_for(request.getfixturevalue(caller))
    before = snapshot(user_a)

    response = client.patch(url(user_a), body, format="json")

    assert response.status_code == 403
    assert snapshot(user_a) == before
    assert user_update_entries(user_a) == 0


@pytest.mark.parametrize(
    "body",
    [{"role": "user"}, {"is_active": True}, {"organization_id": "org_a"}, dict.fromkeys(CAPABILITY_FLAGS, False)],
    ids=["role", "is_active", "organization_id", "flags"],
)
def test_a_value_equal_to_the_current_one_is_not_a_change(client_for, user_a, org_a, body):
    """Documented behaviour: sending a field unchanged needs no right to change it."""
    body = {key: (org_a.pk if value == "org_a" else value) for key, value in body.items()}
    before = snapshot(user_a)

    response = client_for(user_a).patch(url(user_a), body, format="json")

    assert response.status_code == 200
    after = snapshot(user_a)
    assert {**after, "updated_at": None} == {**before, "updated_at": None}
    assert "no changes" in AuditLog.objects.get(action=AuditAction.USER_UPDATE, resource_id=user_a.pk).detail


def test_an_admin_cannot_take_over_a_superuser_in_their_organization(client_for, admin_a, org_a):
    """Same-org authority stops at superusers: a password reset would hand over the whole server."""
    boss = UserFactory(role=Role.SUPERUSER, organization=org_a)
    before = snapshot(boss)

    for body in ({"password": NEW_PASSWORD}, {"email": "mine@example.org"}, {"can_create_ca": True}):
        response = client_for(admin_a).patch(url(boss), body, format="json")
        assert response.status_code == 403, body

    assert snapshot(boss) == before


# --- superusers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [{"role": "admin"}, {"role": "user"}, {"is_active": False}], ids=["to-admin", "to-user", "deactivate"]
)
def test_a_superuser_cannot_demote_or_deactivate_themselves(client_for, superuser, body):
    UserFactory(role=Role.SUPERUSER)  # another active superuser: it is not the last-one rule refusing
    before = snapshot(superuser)

    response = client_for(superuser).patch(url(superuser), body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "self_demotion"
    assert snapshot(superuser) == before


@pytest.mark.parametrize("body", [{"role": "admin"}, {"is_active": False}], ids=["demote", "deactivate"])
def test_a_superuser_may_demote_or_deactivate_another(client_for, superuser, body):
    other = UserFactory(role=Role.SUPERUSER)

    response = client_for(superuser).patch(url(other), body, format="json")

    assert response.status_code == 200
    other.refresh_from_db()
    assert {key: getattr(other, key) for key in body} == body


@pytest.mark.parametrize("body", [{"role": "admin"}, {"is_active": False}], ids=["demote", "deactivate"])
def test_the_last_active_superuser_cannot_be_demoted_or_deactivated(superuser, body):
    """Through HTTP the caller is always another active superuser; a caller deactivated after
    authenticating (a stale actor) is the case where the target is the last one left."""
    other = UserFactory(role=Role.SUPERUSER)
    User.objects.filter(pk=superuser.pk).update(is_active=False)
    before = snapshot(other)

    with pytest.raises(Invalid) as refused:
        user_update(actor=superuser, user=other, data=body)

    assert (refused.value.status_code, refused.value.code) == (400, "last_superuser")
    assert snapshot(other) == before


# --- sessions ------------------------------------------------------------------------------


def token(username: str, password: str):
    """`POST /auth/token`, form-encoded like FastPKI's OAuth2 password flow."""
    return APIClient().post(
        "/api/v1/auth/token",
        urlencode({"username": username, "password": password}),
        content_type="application/x-www-form-urlencoded",
    )


def login(username: str, password: str) -> APIClient:
    response = token(username, password)
    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    return client


def test_changing_my_password_logs_in_with_the_new_one_and_kills_old_sessions(client_for, user_a):
    other_device = client_for(user_a)
    assert other_device.get("/api/v1/users/me").status_code == 200

    response = client_for(user_a).patch(url(user_a), {"password": NEW_PASSWORD}, format="json")

    assert response.status_code == 200
    assert "password" not in response.json() and NEW_PASSWORD not in response.content.decode()
    assert other_device.get("/api/v1/users/me").status_code == 401
    assert not AuthSession.objects.filter(user=user_a, revoked_at__isnull=True).exists()
    fresh = login(user_a.username, NEW_PASSWORD)
    assert fresh.get("/api/v1/users/me").json()["id"] == user_a.pk
    assert token(user_a.username, PASSWORD).status_code == 401


def test_an_admin_resetting_a_password_kills_that_users_sessions_only(client_for, admin_a, user_a):
    victim = client_for(user_a)
    admin = client_for(admin_a)

    assert admin.patch(url(user_a), {"password": NEW_PASSWORD}, format="json").status_code == 200

    assert victim.get("/api/v1/users/me").status_code == 401
    assert admin.get("/api/v1/users/me").status_code == 200
    assert login(user_a.username, NEW_PASSWORD).get("/api/v1/users/me").status_code == 200


def test_deactivation_kills_sessions(client_for, superuser, user_a):
    victim = client_for(user_a)

    response = client_for(superuser).patch(url(user_a), {"is_active": False}, format="json")

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert victim.get("/api/v1/users/me").status_code == 401
    assert not AuthSession.objects.filter(user=user_a, revoked_at__isnull=True).exists()
    assert token(user_a.username, PASSWORD).status_code == 401


# --- other answers -------------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["user_a", "user_b"])
def test_a_regular_user_patching_someone_else_with_nothing_learns_nothing(request, client_for, user_a_capable, caller):
    response = client_for(request.getfixturevalue(caller)).patch(url(user_a_capable), {}, format="json")

    assert response.status_code == 403
    assert user_a_capable.email not in response.content.decode()
    assert user_a_capable.username not in response.content.decode()


@pytest.mark.parametrize("body", [{}, {"email": "carol.new@example.org"}], ids=["empty", "email"])
def test_an_admin_of_another_organization_may_view_a_user_but_not_patch_it(client_for, admin_b, user_a, body):
    """A PATCH is an edit, empty or not: the object permission refuses it before any field is
    looked at (README, "Users")."""
    client = client_for(admin_b)
    before = snapshot(user_a)

    assert client.get(url(user_a)).status_code == 200
    response = client.patch(url(user_a), body, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert snapshot(user_a) == before
    assert user_update_entries(user_a) == 0


@pytest.mark.parametrize("caller", ["user_a", "admin_a", "superuser"])
def test_patching_a_missing_user_is_404(request, client_for, caller):
    client = client_for(request.getfixturevalue(caller))
    missing = User.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000

    assert client.patch(f"/api/v1/users/{missing}", {"email": "x@example.org"}, format="json").status_code == 404


@pytest.mark.usefixtures("fast_hasher")
@pytest.mark.parametrize("path", ["/api/v1/users/{id}", "/api/v1/users/{id}/"], ids=["no-slash", "slash"])
def test_patch_answers_with_and_without_slash(client_for, admin_a, user_a, path):
    response = client_for(admin_a).patch(path.format(id=user_a.pk), {"can_revoke_cert": True}, format="json")

    assert response.status_code == 200
    user_a.refresh_from_db()
    assert user_a.can_revoke_cert is True


def test_the_audit_entry_names_the_actor_and_the_changes(client_for, admin_a, user_a):
    client_for(admin_a).patch(url(user_a), {"can_create_ca": True, "email": "c2@example.org"}, format="json")

    entry = AuditLog.objects.get(action=AuditAction.USER_UPDATE, resource_id=user_a.pk)
    assert (entry.user_id, entry.username, entry.organization_id) == (
        admin_a.pk,
        admin_a.username,
        user_a.organization_id,
    )
    assert "can_create_ca" in entry.detail and "email" in entry.detail


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "alice_admin@example.com"}, "email"),
        ({"email": "ALICE_ADMIN@example.com"}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"password": "short1!"}, "password"),
        ({"password": "12345678901"}, "password"),
        ({"password": "password123"}, "password"),
        ({"username": "renamed"}, "username"),
        ({"role": "root"}, "role"),
    ],
    ids=["duplicate-email", "duplicate-email-case", "bad-email", "short", "numeric", "common", "username", "bad-role"],
)
def test_invalid_changes_are_refused_naming_the_field(client_for, superuser, admin_a, user_a, body, field):
    before = snapshot(user_a)

    response = client_for(superuser).patch(url(user_a), body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert snapshot(user_a) == before
