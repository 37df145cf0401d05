"""Organization membership (SPEC §4): add, remove and list an organization's users."""

from __future__ import annotations

import pytest

from accounts.models import User
from audit.models import AuditLog
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MISSING = 999_999


@pytest.fixture
def as_(request, client_for, anon):
    def make(persona: str):
        return anon if persona == "anon" else client_for(request.getfixturevalue(persona))

    return make


@pytest.fixture
def loner(db) -> User:
    """A regular user in no organization."""
    return UserFactory(username="loner")


@pytest.fixture
def lone_admin(db) -> User:
    return UserFactory(username="lone_admin", role="admin")


def pk_of(request, name: str) -> int:
    return MISSING if name == "missing" else request.getfixturevalue(name).pk


def member_url(org_id: int, user_id: int) -> str:
    return f"/api/v1/organizations/{org_id}/users/{user_id}"


# move -> (HTTP method, audit action)
MOVES = {"add": ("post", "org_add_user"), "remove": ("delete", "org_remove_user")}


def check_move(request, client, move: str, actor: str, org: str, target: str, expected: int) -> None:
    """Add `target` to `org` or remove them from it as `actor`; on success the user's organization
    and one audit entry say so, otherwise nothing changed and nothing was recorded."""
    method, audit_action = MOVES[move]
    org_id, user_id = pk_of(request, org), pk_of(request, target)
    before = User.objects.filter(pk=user_id).values_list("organization_id", flat=True).first()

    response = getattr(client, method)(member_url(org_id, user_id))

    assert response.status_code == expected, response.content
    entries = AuditLog.objects.filter(action=audit_action)
    if expected == 200:
        after = org_id if move == "add" else None
        body = response.json()
        assert body["id"] == user_id
        assert body["username"] == request.getfixturevalue(target).username
        assert body["organization_id"] == after
        assert "password" not in body
        assert User.objects.get(pk=user_id).organization_id == after
        entry = entries.get()
        assert (entry.organization_id, entry.resource_type, entry.resource_id) == (org_id, "user", user_id)
        assert entry.user_id == request.getfixturevalue(actor).pk
    else:
        assert "detail" in response.json()
        assert not entries.exists()
        if user_id != MISSING:
            assert User.objects.get(pk=user_id).organization_id == before


# --- add ----------------------------------------------------------------------------------

# (actor, organization, user to add) -> status
ADD = [
    ("superuser", "org_a", "loner", 200),
    ("superuser", "org_a", "user_b", 200),  # a superuser may move anyone
    ("admin_a", "org_a", "loner", 200),  # a user with no organization may be taken in
    ("admin_a", "org_a", "user_b", 403),  # cannot pull a user out of another organization
    ("admin_a", "org_a", "admin_b", 403),
    ("admin_a", "org_b", "loner", 403),  # not admin of org_b
    ("admin_b", "org_a", "loner", 403),
    ("lone_admin", "org_a", "loner", 403),
    ("user_a", "org_a", "loner", 403),
    ("user_a_capable", "org_a", "loner", 403),
    ("loner", "org_a", "loner", 403),  # nobody adds themselves
    ("anon", "org_a", "loner", 401),
    ("superuser", "org_a", "missing", 404),
    ("admin_a", "org_a", "missing", 404),
    ("superuser", "missing", "loner", 404),
]


@pytest.mark.parametrize(("actor", "org", "target", "expected"), ADD, ids=[f"{a}-{o}-{t}" for a, o, t, _ in ADD])
def test_add_user(request, as_, org_a, org_b, actor, org, target, expected):
    check_move(request, as_(actor), "add", actor, org, target, expected)


def test_adding_a_member_again_changes_nothing(client_for, admin_a, org_a, user_a):
    response = client_for(admin_a).post(member_url(org_a.pk, user_a.pk))

    assert response.status_code == 200
    assert response.json()["organization_id"] == org_a.pk
    assert User.objects.get(pk=user_a.pk).organization_id == org_a.pk


# --- remove -------------------------------------------------------------------------------

REMOVE = [
    ("superuser", "org_a", "user_a", 200),
    ("superuser", "org_b", "user_b", 200),
    ("admin_a", "org_a", "user_a", 200),
    ("admin_a", "org_a", "user_a_capable", 200),
    ("admin_b", "org_b", "user_b", 200),
    ("admin_a", "org_b", "user_b", 403),  # cannot pull a user out of another organization
    ("admin_b", "org_a", "user_a", 403),
    ("lone_admin", "org_a", "user_a", 403),
    ("user_a", "org_a", "user_a_capable", 403),
    ("user_a_capable", "org_a", "user_a", 403),
    ("user_a", "org_a", "user_a", 403),
    ("anon", "org_a", "user_a", 401),
    ("superuser", "org_a", "user_b", 400),  # not a member of org_a
    ("superuser", "org_a", "loner", 400),
    ("admin_a", "org_a", "user_b", 400),
    ("admin_a", "org_a", "loner", 400),
    ("superuser", "org_a", "missing", 404),
    ("admin_a", "org_a", "missing", 404),
    ("superuser", "missing", "user_a", 404),
]


@pytest.mark.parametrize(("actor", "org", "target", "expected"), REMOVE, ids=[f"{a}-{o}-{t}" for a, o, t, _ in REMOVE])
def test_remove_user(request, as_, org_a, org_b, actor, org, target, expected):
    check_move(request, as_(actor), "remove", actor, org, target, expected)


def test_removing_a_non_member_says_why(client_for, superuser, org_a, user_b):
    response = client_for(superuser).delete(member_url(org_a.pk, user_b.pk))

    assert response.status_code == 400
    assert "not a member" in response.json()["detail"]


# --- list ---------------------------------------------------------------------------------

LIST = [
    ("superuser", "org_a", 200),
    ("superuser", "org_b", 200),
    ("admin_a", "org_a", 200),
    ("user_a", "org_a", 200),
    ("admin_b", "org_a", 403),
    ("user_b", "org_a", 403),
    ("admin_a", "org_b", 403),
    ("loner", "org_a", 403),
    ("anon", "org_a", 401),
    ("superuser", "missing", 404),
    ("user_a", "missing", 404),
]


@pytest.mark.parametrize(("actor", "org", "expected"), LIST, ids=[f"{a}-{o}" for a, o, _ in LIST])
def test_list_members(request, as_, org_a, org_b, admin_a, user_a, user_b, actor, org, expected):
    response = as_(actor).get(f"/api/v1/organizations/{pk_of(request, org)}/users")

    assert response.status_code == expected, response.content
    if expected == 200:
        members = {"org_a": [admin_a, user_a], "org_b": [user_b]}[org]
        assert [u["username"] for u in response.json()] == [u.username for u in members]
        assert response["X-Total-Count"] == str(len(members))


def test_list_members_is_a_bare_array_paged_by_skip_and_limit(client_for, superuser, org_a, org_b):
    members = UserFactory.create_batch(5, organization=org_a)
    UserFactory(organization=org_b)

    response = client_for(superuser).get(f"/api/v1/organizations/{org_a.pk}/users", {"skip": 1, "limit": 3})

    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    assert [u["id"] for u in body] == [u.pk for u in members[1:4]]
    assert set(body[0]) >= {"id", "username", "email", "role", "organization_id"}
    assert response["X-Total-Count"] == "5"


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"skip": -1}, {"limit": "x"}])
def test_list_members_refuses_bad_paging(client_for, superuser, org_a, params):
    response = client_for(superuser).get(f"/api/v1/organizations/{org_a.pk}/users", params)

    assert response.status_code == 400
    assert set(params) <= set(response.json()["errors"])
