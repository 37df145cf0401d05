"""Organizations API (SPEC §4): create, list, read, update, delete, who may do each."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from orgs.models import Organization
from tests.factories import OrganizationFactory, UserFactory

URL = "/api/v1/organizations/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_(request, client_for, anon):
    """`as_("admin_a")` -> a client logged in as that persona (`"anon"` -> no token)."""

    def make(persona: str):
        if persona == "anon":
            return anon
        return client_for(request.getfixturevalue(persona))

    return make


def detail_url(org_id: int) -> str:
    return f"{URL}{org_id}"


# --- create -------------------------------------------------------------------------------

CREATE = [
    ("superuser", 201),
    ("admin_a", 201),
    ("user_a", 403),
    ("user_a_capable", 403),
    ("anon", 401),
]


@pytest.mark.parametrize(("persona", "expected"), CREATE, ids=[p for p, _ in CREATE])
def test_create_is_for_admins_and_superusers(request, as_, persona, expected):
    response = as_(persona).post(URL, {"name": "Newco", "description": "a tenant"})

    assert response.status_code == expected, response.content
    created = Organization.objects.filter(name="Newco").first()
    if expected == 201:
        body = response.json()
        assert set(body) == {"id", "name", "description", "created_at", "updated_at"}
        assert body["name"] == "Newco"
        assert body["description"] == "a tenant"
        assert body["id"] == created.pk
        entry = AuditLog.objects.get(action="org_create")
        assert entry.organization_id == created.pk
        assert entry.resource_type == "organization"
        assert entry.resource_id == created.pk
        assert entry.username == request.getfixturevalue(persona).username
    else:
        assert created is None
        assert not AuditLog.objects.filter(action="org_create").exists()


@pytest.mark.parametrize("name", ["Org A", "org a", "ORG A", "  Org A  "], ids=["same", "lower", "upper", "padded"])
def test_create_refuses_a_name_in_use_ignoring_case(client_for, superuser, org_a, name):
    response = client_for(superuser).post(URL, {"name": name})

    assert response.status_code == 400
    body = response.json()
    assert "name" in body["errors"]
    assert "already exists" in body["detail"]
    assert Organization.objects.count() == 1


@pytest.mark.parametrize(
    "payload",
    [{"name": ""}, {"name": "   "}, {"name": None}, {}, {"description": "no name"}],
    ids=["empty", "blank", "null", "missing", "only-description"],
)
def test_create_needs_a_non_empty_name(client_for, superuser, payload):
    response = client_for(superuser).post(URL, payload)

    assert response.status_code == 400
    body = response.json()
    assert "name" in body["errors"]
    assert "name" in body["detail"]
    assert not Organization.objects.exists()


def test_create_strips_the_name(client_for, superuser):
    response = client_for(superuser).post(URL, {"name": "  Spaced Out  "})

    assert response.status_code == 201
    assert response.json()["name"] == "Spaced Out"


# --- list ---------------------------------------------------------------------------------


@pytest.fixture
def loner(db):
    return UserFactory(username="loner")


@pytest.fixture
def lone_admin(db):
    return UserFactory(username="lone_admin", role="admin")


LIST = [
    ("superuser", ["Org A", "Org B", "Org C"]),
    ("admin_a", ["Org A"]),
    ("user_a", ["Org A"]),
    ("admin_b", ["Org B"]),
    ("user_b", ["Org B"]),
    ("loner", []),
    ("lone_admin", []),
]


@pytest.mark.parametrize(("persona", "names"), LIST, ids=[p for p, _ in LIST])
def test_list_shows_superusers_all_and_others_their_own(as_, org_a, org_b, persona, names):
    OrganizationFactory(name="Org C")

    response = as_(persona).get(URL)

    assert response.status_code == 200
    assert [o["name"] for o in response.json()] == names
    assert response["X-Total-Count"] == str(len(names))


def test_list_needs_a_login(anon, org_a):
    assert anon.get(URL).status_code == 401


def test_list_pages_with_skip_and_limit(client_for, superuser):
    orgs = OrganizationFactory.create_batch(5)

    response = client_for(superuser).get(URL, {"skip": 1, "limit": 2})

    assert response.status_code == 200
    assert [o["id"] for o in response.json()] == [orgs[1].pk, orgs[2].pk]
    assert response["X-Total-Count"] == "5"


# --- retrieve -----------------------------------------------------------------------------

# (persona, which organization) -> status; "missing" is an id that does not exist.
RETRIEVE = [
    ("superuser", "org_a", 200),
    ("superuser", "org_b", 200),
    ("admin_a", "org_a", 200),
    ("user_a", "org_a", 200),
    ("admin_a", "org_b", 403),
    ("user_a", "org_b", 403),
    ("loner", "org_a", 403),
    ("anon", "org_a", 401),
    ("superuser", "missing", 404),
    ("admin_a", "missing", 404),
    ("user_a", "missing", 404),
]


def org_id(request, which: str) -> int:
    if which == "missing":
        return 999_999
    return request.getfixturevalue(which).pk


@pytest.mark.parametrize(("persona", "which", "expected"), RETRIEVE, ids=[f"{p}-{w}" for p, w, _ in RETRIEVE])
def test_retrieve_is_for_members_and_superusers(request, as_, org_a, org_b, persona, which, expected):
    response = as_(persona).get(detail_url(org_id(request, which)))

    assert response.status_code == expected, response.content
    if expected == 200:
        assert response.json()["id"] == org_id(request, which)
    else:
        assert "detail" in response.json()


# --- update -------------------------------------------------------------------------------

UPDATE = [
    ("superuser", "org_a", 200),
    ("superuser", "org_b", 200),
    ("admin_a", "org_a", 200),
    ("admin_b", "org_b", 200),
    ("admin_a", "org_b", 403),
    ("admin_b", "org_a", 403),
    ("user_a", "org_a", 403),
    ("user_a_capable", "org_a", 403),
    ("lone_admin", "org_a", 403),
    ("anon", "org_a", 401),
    ("superuser", "missing", 404),
    ("admin_a", "missing", 404),
]


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize(("persona", "which", "expected"), UPDATE, ids=[f"{p}-{w}" for p, w, _ in UPDATE])
def test_update_is_for_superusers_and_the_orgs_admin(request, as_, org_a, org_b, persona, which, expected, method):
    target = org_id(request, which)

    response = getattr(as_(persona), method)(detail_url(target), {"name": "Renamed", "description": "new"})

    assert response.status_code == expected, response.content
    entries = AuditLog.objects.filter(action="org_update")
    if expected == 200:
        assert response.json()["name"] == "Renamed"
        org = Organization.objects.get(pk=target)
        assert (org.name, org.description) == ("Renamed", "new")
        entry = entries.get()
        assert (entry.organization_id, entry.resource_type, entry.resource_id) == (target, "organization", target)
    else:
        assert not Organization.objects.filter(name="Renamed").exists()
        assert not entries.exists()


def test_update_refuses_another_orgs_name_ignoring_case(client_for, superuser, org_a, org_b):
    response = client_for(superuser).put(detail_url(org_a.pk), {"name": "ORG B"})

    assert response.status_code == 400
    assert "name" in response.json()["errors"]
    org_a.refresh_from_db()
    assert org_a.name == "Org A"


def test_update_may_change_the_case_of_its_own_name(client_for, superuser, org_a):
    response = client_for(superuser).put(detail_url(org_a.pk), {"name": "ORG A"})

    assert response.status_code == 200
    assert response.json()["name"] == "ORG A"


@pytest.mark.parametrize("name", ["", "   "], ids=["empty", "blank"])
def test_update_refuses_an_empty_name(client_for, superuser, org_a, name):
    response = client_for(superuser).put(detail_url(org_a.pk), {"name": name})

    assert response.status_code == 400
    assert "name" in response.json()["errors"]
    org_a.refresh_from_db()
    assert org_a.name == "Org A"


# --- delete -------------------------------------------------------------------------------

DELETE = [
    ("superuser", "empty", 204),
    ("admin_a", "empty", 403),
    ("admin_a", "org_a", 403),
    ("user_a", "org_a", 403),
    ("lone_admin", "empty", 403),
    ("anon", "empty", 401),
    ("superuser", "missing", 404),
]


@pytest.mark.parametrize(("persona", "which", "expected"), DELETE, ids=[f"{p}-{w}" for p, w, _ in DELETE])
def test_delete_is_for_superusers_only(request, as_, org_a, persona, which, expected):
    empty = OrganizationFactory(name="Empty")
    target = empty.pk if which == "empty" else org_id(request, which)

    response = as_(persona).delete(detail_url(target))

    assert response.status_code == expected, response.content
    entries = AuditLog.objects.filter(action="org_delete")
    if expected == 204:
        assert response.content == b""
        assert not Organization.objects.filter(pk=target).exists()
        entry = entries.get()
        assert (entry.organization_id, entry.resource_type, entry.resource_id) == (target, "organization", target)
        assert entry.username == request.getfixturevalue("superuser").username
    else:
        assert Organization.objects.filter(pk=empty.pk).exists()
        assert Organization.objects.filter(pk=org_a.pk).exists()
        assert not entries.exists()


def test_delete_refuses_an_org_that_still_has_users(client_for, superuser, org_a, user_a):
    response = client_for(superuser).delete(detail_url(org_a.pk))

    assert response.status_code == 400
    body = response.json()
    assert "user" in body["detail"]
    assert body["code"]
    assert Organization.objects.filter(pk=org_a.pk).exists()
    assert not AuditLog.objects.filter(action="org_delete").exists()
