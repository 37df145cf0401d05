"""`GET /api/v1/audit-logs/` (SPEC §10): who sees which entries, order, filters, shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
import time_machine

from audit.models import AuditAction, AuditLog
from audit.services import audit_record
from tests.factories import PASSWORD, UserFactory

URL = "/api/v1/audit-logs/"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def record(*, at: datetime = T0, **fields) -> AuditLog:
    with time_machine.travel(at, tick=False):
        return audit_record(**{"action": AuditAction.CA_CREATE, **fields})


@pytest.fixture
def entries(superuser, admin_a, user_a, admin_b, org_a, org_b):
    """One entry per organization and one with none, at distinct times."""
    return {
        "a": record(action=AuditAction.ORG_CREATE, actor=admin_a, organization_id=org_a.pk, at=T0),
        "b": record(action=AuditAction.ORG_CREATE, actor=admin_b, organization_id=org_b.pk, at=T0 + timedelta(hours=1)),
        "none": record(action=AuditAction.USER_CREATE, actor=superuser, at=T0 + timedelta(hours=2)),
        "a2": record(
            action=AuditAction.USER_UPDATE, actor=user_a, organization_id=org_a.pk, at=T0 + timedelta(hours=3)
        ),
    }


# --- who sees what ------------------------------------------------------------------------

ACCESS = [
    ("superuser", 200, ["a2", "none", "b", "a"]),
    ("admin_a", 200, ["a2", "a"]),
    ("admin_b", 200, ["b"]),
    ("lone_admin", 200, []),
    ("user_a", 403, None),
    ("user_a_capable", 403, None),
    ("anon", 401, None),
]


@pytest.fixture
def lone_admin(db):
    return UserFactory(username="lone_admin", role="admin")


@pytest.mark.parametrize(("persona", "expected", "visible"), ACCESS, ids=[p for p, _, _ in ACCESS])
def test_superusers_see_all_admins_their_org_users_nothing(
    request, client_for, anon, entries, persona, expected, visible
):
    client = anon if persona == "anon" else client_for(request.getfixturevalue(persona))

    response = client.get(URL)

    assert response.status_code == expected, response.content
    if expected == 200:
        assert [e["id"] for e in response.json()] == [entries[k].pk for k in visible]
        assert response["X-Total-Count"] == str(len(visible))
    else:
        assert set(response.json()) == {"detail", "code"}  # an error, no entries


def test_entries_have_the_documented_shape(client_for, superuser, admin_a, org_a):
    entry = record(
        action=AuditAction.ORG_ADD_USER,
        actor=admin_a,
        organization_id=org_a.pk,
        resource_type="user",
        resource_id=42,
        detail="added user x",
    )

    (body,) = client_for(superuser).get(URL).json()

    assert body == {
        "id": entry.pk,
        "created_at": "2030-01-01T12:00:00Z",
        "action": "org_add_user",
        "user_id": admin_a.pk,
        "username": "alice_admin",
        "organization_id": org_a.pk,
        "resource_type": "user",
        "resource_id": 42,
        "detail": "added user x",
    }


def test_newest_first_even_within_one_instant(client_for, superuser):
    same = [record(detail=str(i)) for i in range(3)]
    older = record(at=T0 - timedelta(days=1), detail="older")

    response = client_for(superuser).get(URL)

    assert [e["id"] for e in response.json()] == [same[2].pk, same[1].pk, same[0].pk, older.pk]


# --- filters ------------------------------------------------------------------------------

FILTERS = [
    ("action", lambda u: {"action": "org_create"}, ["b", "a"]),
    ("user_id", lambda u: {"user_id": u["user_a"].pk}, ["a2"]),
    ("resource_type", lambda u: {"resource_type": "certificate"}, ["cert"]),
    ("resource_id", lambda u: {"resource_id": 7}, ["cert"]),
    ("since", lambda u: {"since": (T0 + timedelta(hours=1)).isoformat()}, ["a2", "none", "b"]),
    ("until", lambda u: {"until": (T0 + timedelta(hours=1)).isoformat()}, ["b", "a", "cert", "old"]),
    ("since-z", lambda u: {"since": "2030-01-01T14:30:00Z"}, ["a2"]),
    (
        "window",
        lambda u: {"since": "2030-01-01T11:00:00+00:00", "until": "2030-01-01T14:00:00Z"},
        ["none", "b", "a", "cert"],
    ),
    ("combined", lambda u: {"action": "org_create", "user_id": u["admin_b"].pk}, ["b"]),
    ("no-match", lambda u: {"action": "ca_delete"}, []),
]


@pytest.mark.parametrize(("name", "params", "expected"), FILTERS, ids=[n for n, _, _ in FILTERS])
def test_filters(client_for, superuser, admin_b, user_a, entries, name, params, expected):
    entries["cert"] = record(
        action=AuditAction.CERT_CREATE, resource_type="certificate", resource_id=7, at=T0 - timedelta(hours=1)
    )
    entries["old"] = record(action=AuditAction.CA_CREATE, resource_type="ca", resource_id=8, at=T0 - timedelta(days=9))

    response = client_for(superuser).get(URL, params({"user_a": user_a, "admin_b": admin_b}))

    assert response.status_code == 200, response.content
    assert [e["id"] for e in response.json()] == [entries[k].pk for k in expected]
    assert response["X-Total-Count"] == str(len(expected))


def test_an_admins_filters_stay_inside_their_organization(client_for, admin_a, entries):
    response = client_for(admin_a).get(URL, {"action": "org_create"})

    assert [e["id"] for e in response.json()] == [entries["a"].pk]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"limit": 2}, ["a2", "none"]),
        ({"skip": 1, "limit": 2}, ["none", "b"]),
        ({"skip": 3}, ["a"]),
        ({"limit": 1000}, None),
    ],
    ids=["limit", "skip-limit", "skip", "max-limit"],
)
def test_skip_and_limit(client_for, superuser, entries, params, expected):
    expected = expected or ["a2", "none", "b", "a"]

    response = client_for(superuser).get(URL, params)

    assert response.status_code == 200
    assert [e["id"] for e in response.json()] == [entries[k].pk for k in expected]
    assert response["X-Total-Count"] == "4"


BAD = [
    ({"limit": 0}, "limit"),
    ({"limit": 1001}, "limit"),
    ({"limit": -5}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"skip": -1}, "skip"),
    ({"action": "bogus"}, "action"),
    ({"since": "notadate"}, "since"),
    ({"until": "2030-13-45"}, "until"),
    ({"user_id": "abc"}, "user_id"),
    ({"resource_id": "x"}, "resource_id"),
]


@pytest.mark.parametrize(("params", "field"), BAD, ids=[f"{f}={p[f]}" for p, f in BAD])
def test_bad_filter_values_are_400_naming_the_parameter(client_for, superuser, entries, params, field):
    response = client_for(superuser).get(URL, params)

    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["errors"]
    assert field in body["detail"]


# --- what gets recorded -------------------------------------------------------------------


def _login(c, password: str):
    form = urlencode({"username": "carol", "password": password})
    return c.anon.post("/api/v1/auth/token", form, content_type="application/x-www-form-urlencoded")


# (action, request made, its status, actor, resource named by the entry, organization of the entry)
RECORDED = [
    ("login_success", lambda c: _login(c, PASSWORD), 200, "user_a", "user_a", "org_a"),
    ("login_failure", lambda c: _login(c, "wrong-password"), 401, None, "user_a", "org_a"),
    (
        "user_create",
        lambda c: c.as_admin_a.post(
            "/api/v1/users/", {"username": "newbie", "email": "newbie@example.com", "password": "a-long-passphrase-9"}
        ),
        201,
        "admin_a",
        "new user",
        "org_a",
    ),
    (
        "user_update",
        lambda c: c.as_admin_a.patch(f"/api/v1/users/{c.user_a.pk}", {"can_create_cert": True}),
        200,
        "admin_a",
        "user_a",
        "org_a",
    ),
    (
        "user_delete",
        lambda c: c.as_superuser.delete(f"/api/v1/users/{c.user_a.pk}"),
        204,
        "superuser",
        "user_a",
        "org_a",
    ),
    (
        "org_create",
        lambda c: c.as_admin_a.post("/api/v1/organizations/", {"name": "Newco"}),
        201,
        "admin_a",
        "new org",
        "new org",
    ),
    (
        "org_update",
        lambda c: c.as_admin_a.put(f"/api/v1/organizations/{c.org_a.pk}", {"description": "changed"}),
        200,
        "admin_a",
        "org_a",
        "org_a",
    ),
    (
        "org_delete",
        lambda c: c.as_superuser.delete(f"/api/v1/organizations/{c.org_b.pk}"),
        204,
        "superuser",
        "org_b",
        "org_b",
    ),
    (
        "org_add_user",
        lambda c: c.as_admin_a.post(f"/api/v1/organizations/{c.org_a.pk}/users/{c.loner.pk}"),
        200,
        "admin_a",
        "loner",
        "org_a",
    ),
    (
        "org_remove_user",
        lambda c: c.as_admin_a.delete(f"/api/v1/organizations/{c.org_a.pk}/users/{c.user_a.pk}"),
        200,
        "admin_a",
        "user_a",
        "org_a",
    ),
]


@pytest.mark.parametrize(
    ("action", "act", "status", "actor", "resource", "org"), RECORDED, ids=[r[0] for r in RECORDED]
)
def test_user_login_and_org_actions_are_listed(
    client_for, anon, superuser, admin_a, user_a, org_a, org_b, action, act, status, actor, resource, org
):
    loner = UserFactory(username="loner")
    c = SimpleNamespace(
        anon=anon,
        as_superuser=client_for(superuser),
        as_admin_a=client_for(admin_a),
        user_a=user_a,
        loner=loner,
        org_a=org_a,
        org_b=org_b,
    )
    people = {"superuser": superuser, "admin_a": admin_a, "user_a": user_a}
    ids = {"user_a": user_a.pk, "loner": loner.pk, "org_a": org_a.pk, "org_b": org_b.pk}

    response = act(c)

    assert response.status_code == status, response.content
    if resource.startswith("new"):
        ids[resource] = response.json()["id"]
    listed = client_for(superuser).get(URL, {"action": action}).json()
    assert len(listed) == 1
    (entry,) = listed
    assert entry["resource_type"] == ("organization" if "org" in resource else "user")
    assert entry["resource_id"] == ids[resource]
    assert entry["organization_id"] == ids[org]
    assert entry["user_id"] == (people[actor].pk if actor else None)
    assert entry["username"] == (people[actor].username if actor else "carol")
    assert entry["detail"]
