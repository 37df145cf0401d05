"""`POST /api/v1/users`: the first-user bootstrap, who may create whom, and input validation."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import CAPABILITY_FLAGS, Role, SystemState, User
from accounts.policy import REGISTRATION, RULES, Action
from audit.models import AuditAction, AuditLog

URL = "/api/v1/users/"
PASSWORD = "Unguessable-Pass-42"
USER_FIELDS = {
    "id",
    "username",
    "email",
    "role",
    "is_active",
    "organization_id",
    *CAPABILITY_FLAGS,
    "created_at",
    "updated_at",
}
ALL_FLAGS_FALSE = dict.fromkeys(CAPABILITY_FLAGS, False)  # what FastPKI's CLI always sends
ALL_FLAGS_TRUE = dict.fromkeys(CAPABILITY_FLAGS, True)


@pytest.fixture
def fast_hasher(settings):
    """The caller tables are not about hashing; Argon2 is checked in its own test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def client_as(request, client_for):
    """A client for a persona named in a table ("anon" means no token)."""

    def make(name: str) -> APIClient:
        if name == "anon":
            return APIClient()
        return client_for(request.getfixturevalue(name))

    return make


def payload(username: str, **extra: object) -> dict[str, object]:
    return {"username": username, "email": f"{username}@example.net", "password": PASSWORD, **extra}


def assert_no_secret(response) -> None:
    body = response.content.decode()
    assert "password" not in response.json()
    assert PASSWORD not in body
    assert "argon2" not in body and "md5$" not in body


# --- the first user ever ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hasher")
@pytest.mark.parametrize("role", ["superuser", "admin", "user"])
@pytest.mark.parametrize("registration_open", [True, False], ids=["registration-open", "registration-closed"])
def test_first_user_needs_no_login_and_may_take_any_role(settings, role, registration_open):
    settings.ALLOW_UNAUTHENTICATED_REGISTRATION = registration_open
    assert not User.objects.exists()

    response = APIClient().post(URL, payload("founder", role=role), format="json")

    assert response.status_code == 201, response.content
    assert set(response.json()) == USER_FIELDS
    assert_no_secret(response)
    user = User.objects.get()
    assert (user.username, user.role, user.is_active) == ("founder", role, True)
    assert SystemState.objects.count() == 1
    entry = AuditLog.objects.get(action=AuditAction.USER_CREATE)
    assert (entry.resource_type, entry.resource_id, entry.user_id) == ("user", user.pk, user.pk)


NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided.", "code": "not_authenticated"}
PRIVILEGED_REFUSED = {"detail": "Only a superuser can create admin or superuser accounts", "code": "permission_denied"}
# After the first user, an anonymous caller is back under the registration rules.
SECOND_ANONYMOUS_TABLE = [
    # registration open, requested role, expected status, expected body (None: the new user)
    (True, "superuser", 403, PRIVILEGED_REFUSED),
    (True, "user", 201, None),
    (False, "superuser", 401, NOT_AUTHENTICATED),
    (False, "user", 401, NOT_AUTHENTICATED),
]


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hasher")
@pytest.mark.parametrize(
    ("registration_open", "role", "expected", "body"),
    SECOND_ANONYMOUS_TABLE,
    ids=[f"{'open' if o else 'closed'}-{r}" for o, r, _, _ in SECOND_ANONYMOUS_TABLE],
)
def test_only_the_first_user_is_the_bootstrap(settings, anon, registration_open, role, expected, body):
    settings.ALLOW_UNAUTHENTICATED_REGISTRATION = registration_open
    assert anon.post(URL, payload("founder", role="superuser"), format="json").status_code == 201

    response = anon.post(URL, payload("second", role=role), format="json")

    assert response.status_code == expected, response.content
    if body is None:
        assert User.objects.get(username="second").role == role
        return
    assert response.json() == body
    if expected == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert list(User.objects.values_list("username", flat=True)) == ["founder"]
    assert SystemState.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hasher")
def test_the_bootstrap_is_decided_by_the_policy_table(settings, monkeypatch, anon):
    """Without its rule, the route obeys the registration setting alone: the view has no bypass."""
    settings.ALLOW_UNAUTHENTICATED_REGISTRATION = False
    monkeypatch.setitem(RULES, Action.USER_CREATE_OR_BOOTSTRAP, REGISTRATION)

    response = anon.post(URL, payload("founder", role="superuser"), format="json")

    assert (response.status_code, response.json()) == (401, NOT_AUTHENTICATED)
    assert not User.objects.exists()
    assert not SystemState.objects.exists()


# --- who may create which role --------------------------------------------------------------

ROLE_TABLE = [
    # caller, requested role, expected status
    ("anon", "user", 201),
    ("anon", "admin", 403),
    ("anon", "superuser", 403),
    ("user_a", "user", 201),
    ("user_a", "admin", 403),
    ("user_a", "superuser", 403),
    ("admin_a", "user", 201),
    ("admin_a", "admin", 403),
    ("admin_a", "superuser", 403),
    ("superuser", "user", 201),
    ("superuser", "admin", 201),
    ("superuser", "superuser", 201),
]


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hasher", "superuser")
@pytest.mark.parametrize(("caller", "role", "expected"), ROLE_TABLE, ids=[f"{c}-{r}" for c, r, _ in ROLE_TABLE])
def test_who_may_create_which_role(client_as, caller, role, expected):
    client = client_as(caller)
    before = User.objects.count()

    response = client.post(URL, payload("newbie", role=role), format="json")

    assert response.status_code == expected, response.content
    if expected == 201:
        assert User.objects.get(username="newbie").role == role
        assert_no_secret(response)
        assert AuditLog.objects.filter(action=AuditAction.USER_CREATE, resource_id=response.json()["id"]).exists()
    else:
        assert response.json()["detail"]
        assert User.objects.count() == before
        assert not AuditLog.objects.filter(action=AuditAction.USER_CREATE).exists()


# --- organization and capability flags at creation -------------------------------------------

# `org`: None (not sent), "null" (sent as null), "own" (the caller's organization, org_a), "other" (org_b).
ORG_FLAG_TABLE = [
    # caller, org, flags sent, expected status
    ("anon", None, ALL_FLAGS_FALSE, 201),
    ("anon", "null", ALL_FLAGS_FALSE, 201),
    ("anon", "own", {}, 403),
    ("anon", "other", {}, 403),
    *[("anon", None, {flag: True}, 403) for flag in CAPABILITY_FLAGS],
    ("user_a", None, ALL_FLAGS_FALSE, 201),
    ("user_a", "own", {}, 403),
    ("user_a", "other", {}, 403),
    *[("user_a", None, {flag: True}, 403) for flag in CAPABILITY_FLAGS],
    ("admin_a", None, ALL_FLAGS_FALSE, 201),
    ("admin_a", "own", ALL_FLAGS_TRUE, 201),
    *[("admin_a", "own", {flag: True}, 201) for flag in CAPABILITY_FLAGS],
    ("admin_a", None, ALL_FLAGS_TRUE, 201),
    ("admin_a", "other", {}, 403),
    ("admin_a", "other", ALL_FLAGS_TRUE, 403),
    ("superuser", "own", ALL_FLAGS_TRUE, 201),
    ("superuser", "other", ALL_FLAGS_TRUE, 201),
    ("superuser", None, ALL_FLAGS_TRUE, 201),
]


def _flags_id(flags: dict[str, bool]) -> str:
    if not flags:
        return "no-flags"
    if flags == ALL_FLAGS_FALSE:
        return "all-flags-false"
    if flags == ALL_FLAGS_TRUE:
        return "all-flags-true"
    return "+".join(name for name, value in flags.items() if value)


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hasher", "superuser")
@pytest.mark.parametrize(
    ("caller", "org", "flags", "expected"),
    ORG_FLAG_TABLE,
    ids=[f"{c}-org:{o}-{_flags_id(f)}" for c, o, f, _ in ORG_FLAG_TABLE],
)
def test_organization_and_flags_at_creation(client_as, org_a, org_b, caller, org, flags, expected):
    orgs = {None: None, "null": None, "own": org_a.pk, "other": org_b.pk}
    body = payload("newbie", **flags)
    if org is not None:
        body["organization_id"] = orgs[org]
    client = client_as(caller)
    before = User.objects.count()

    response = client.post(URL, body, format="json")

    assert response.status_code == expected, response.content
    if expected == 201:
        user = User.objects.get(username="newbie")
        for name in CAPABILITY_FLAGS:
            assert getattr(user, name) is flags.get(name, False), name
            assert response.json()[name] is flags.get(name, False), name
        if org in ("own", "other"):
            assert user.organization_id == orgs[org]
        elif caller == "admin_a":
            assert user.organization_id == org_a.pk  # an admin's users join the admin's organization
        else:
            assert user.organization_id is None
        assert response.json()["organization_id"] == user.organization_id
    else:
        assert User.objects.count() == before
        assert not User.objects.filter(username="newbie").exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hasher")
def test_superuser_may_set_everything_and_it_is_stored(client_for, superuser, org_b):
    body = payload("boss", role="admin", organization_id=org_b.pk, **ALL_FLAGS_TRUE)

    response = client_for(superuser).post(URL, body, format="json")

    assert response.status_code == 201
    user = User.objects.get(username="boss")
    assert (user.role, user.organization_id, user.email) == ("admin", org_b.pk, "boss@example.net")
    assert all(getattr(user, name) for name in CAPABILITY_FLAGS)
    data = response.json()
    assert data["id"] == user.pk and data["role"] == "admin" and data["organization_id"] == org_b.pk
    assert data["is_active"] is True


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hasher")
def test_admin_without_organization_cannot_hand_out_flags(client_for, org_a):
    from tests.factories import UserFactory

    loose_admin = UserFactory(role=Role.ADMIN, organization=None)

    response = client_for(loose_admin).post(URL, payload("newbie", can_create_ca=True), format="json")

    assert response.status_code == 403
    assert not User.objects.filter(username="newbie").exists()


# --- ALLOW_UNAUTHENTICATED_REGISTRATION --------------------------------------------------------

REGISTRATION_CLOSED_TABLE = [
    ("anon", 401),
    ("user_a", 201),
    ("admin_a", 201),
    ("superuser", 201),
]


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hasher", "superuser")
@pytest.mark.parametrize(
    ("caller", "expected"), REGISTRATION_CLOSED_TABLE, ids=[c for c, _ in REGISTRATION_CLOSED_TABLE]
)
def test_closed_registration_needs_a_login(settings, client_as, caller, expected):
    settings.ALLOW_UNAUTHENTICATED_REGISTRATION = False
    client = client_as(caller)
    before = User.objects.count()

    response = client.post(URL, payload("newbie"), format="json")

    assert response.status_code == expected, response.content
    if expected == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert User.objects.count() == before
    else:
        assert User.objects.filter(username="newbie").exists()


# --- validation --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hasher", "superuser")
@pytest.mark.parametrize(
    ("field", "value"),
    [("username", "ROOT"), ("username", "root"), ("email", "Root@Example.com"), ("email", "root@example.com")],
    ids=["username-other-case", "username-same", "email-other-case", "email-same"],
)
def test_duplicate_username_or_email_is_refused_naming_the_field(anon, field, value):
    body = payload("newbie")
    body[field] = value  # the superuser persona is root / root@example.com
    before = User.objects.count()

    response = anon.post(URL, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert User.objects.count() == before


@pytest.mark.django_db
@pytest.mark.usefixtures("superuser")
@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("x7#kQ2z", "This password is too short. It must contain at least 8 characters."),
        ("80417392651", "This password is entirely numeric."),
        ("password123", "This password is too common."),
        ("qwertyuiop", "This password is too common."),
        ("newbie2024", "The password is too similar to the username."),
    ],
    ids=["too-short", "all-numeric", "common", "common-keyboard", "like-username"],
)
def test_weak_password_is_refused_with_djangos_message(anon, password, message):
    response = anon.post(URL, {**payload("newbie"), "password": password}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert any(message in text for text in body["errors"]["password"]), body
    assert password not in response.content.decode()
    assert not User.objects.filter(username="newbie").exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("superuser")
@pytest.mark.parametrize(
    "missing",
    [("username",), ("email",), ("password",), ("username", "email", "password")],
    ids=["username", "email", "password", "all"],
)
def test_missing_required_fields_are_named(anon, missing):
    body = {key: value for key, value in payload("newbie").items() if key not in missing}

    response = anon.post(URL, body, format="json")

    assert response.status_code == 400
    assert set(missing) <= set(response.json()["errors"])
    assert not User.objects.filter(username="newbie").exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hasher")
@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"organization_id": 987654}, "organization_id"),
        ({"role": "root"}, "role"),
        ({"role": ""}, "role"),
        ({"email": "not-an-email"}, "email"),
        ({"username": "has space"}, "username"),
        ({"can_create_ca": "maybe"}, "can_create_ca"),
    ],
    ids=["no-such-organization", "unknown-role", "empty-role", "bad-email", "bad-username", "bad-flag"],
)
def test_invalid_values_are_refused_naming_the_field(client_for, superuser, extra, field):
    before = User.objects.count()

    response = client_for(superuser).post(URL, {**payload("newbie"), **extra}, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert User.objects.count() == before


# --- paths and storage -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hasher", "superuser")
@pytest.mark.parametrize("url", ["/api/v1/users", "/api/v1/users/"], ids=["no-slash", "slash"])
def test_both_path_forms_create_without_redirect(anon, url):
    response = anon.post(url, payload("newbie"), format="json")

    assert response.status_code == 201
    assert User.objects.filter(username="newbie").exists()


@pytest.mark.django_db
def test_password_is_hashed_with_argon2_and_never_returned(anon):
    response = anon.post(URL, payload("founder", role="superuser"), format="json")

    assert response.status_code == 201
    assert_no_secret(response)
    user = User.objects.get(username="founder")
    assert user.password.startswith("argon2")
    assert user.check_password(PASSWORD)
    assert not user.check_password(PASSWORD + "x")
