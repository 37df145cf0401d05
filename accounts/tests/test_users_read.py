"""`GET /api/v1/users`, `/users/me` and `/users/{id}`: who may read whom, pagination, paths."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/users/"
PERSONAS = ["superuser", "admin_a", "admin_b", "user_a", "user_a_capable", "user_b"]


@pytest.fixture
def everyone(request) -> dict[str, User]:
    return {name: request.getfixturevalue(name) for name in PERSONAS}


@pytest.fixture
def client_as(everyone, client_for):
    def make(name: str) -> APIClient:
        return APIClient() if name == "anon" else client_for(everyone[name])

    return make


# --- list ----------------------------------------------------------------------------------

LIST_TABLE = [("anon", 401), ("user_a", 403), ("user_a_capable", 403), ("admin_a", 403), ("superuser", 200)]


@pytest.mark.parametrize(("caller", "expected"), LIST_TABLE, ids=[c for c, _ in LIST_TABLE])
def test_only_a_superuser_lists_users(client_as, caller, expected):
    response = client_as(caller).get(URL)

    assert response.status_code == expected
    if expected == 200:
        assert isinstance(response.json(), list)
    else:
        assert "username" not in response.content.decode()
    if expected == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_list_is_a_bare_array_in_id_order_with_a_total(client_as, everyone):
    response = client_as("superuser").get(URL)

    body = response.json()
    ids = sorted(user.pk for user in everyone.values())
    assert [row["id"] for row in body] == ids
    assert response.headers["X-Total-Count"] == str(len(ids))
    assert all("password" not in row for row in body)


@pytest.mark.parametrize(("skip", "limit"), [(0, 1), (1, 2), (3, 100), (5, 1000), (6, 10), (50, 5)])
def test_skip_and_limit_page_through_in_a_stable_order(client_as, everyone, skip, limit):
    ids = sorted(user.pk for user in everyone.values())

    response = client_as("superuser").get(URL, {"skip": skip, "limit": limit})

    assert response.status_code == 200
    assert [row["id"] for row in response.json()] == ids[skip : skip + limit]
    assert response.headers["X-Total-Count"] == str(len(ids))


@pytest.mark.parametrize(
    "params",
    [{"limit": 1001}, {"limit": 0}, {"limit": -1}, {"skip": -1}, {"limit": "ten"}, {"skip": "x"}],
    ids=["limit-1001", "limit-0", "limit-negative", "skip-negative", "limit-not-int", "skip-not-int"],
)
def test_out_of_range_paging_is_refused(client_as, params):
    response = client_as("superuser").get(URL, params)

    assert response.status_code == 400
    assert set(params) <= set(response.json()["errors"])


def test_list_costs_the_same_queries_however_many_users(client_for, superuser):
    client = client_for(superuser)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured)

    few = queries()
    UserFactory.create_batch(15)
    assert queries() == few


# --- me ------------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", PERSONAS)
@pytest.mark.parametrize("url", ["/api/v1/users/me", "/api/v1/users/me/"], ids=["no-slash", "slash"])
def test_every_active_user_reads_themselves(client_as, everyone, caller, url):
    response = client_as(caller).get(url)

    assert response.status_code == 200
    body = response.json()
    me = everyone[caller]
    assert (body["id"], body["username"], body["email"], body["role"]) == (me.pk, me.username, me.email, me.role)
    assert body["organization_id"] == me.organization_id
    assert "password" not in body


def test_me_needs_a_login(anon):
    response = anon.get("/api/v1/users/me")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_deactivated_users_token_is_refused(client_for, user_a):
    client = client_for(user_a)
    User.objects.filter(pk=user_a.pk).update(is_active=False)

    assert client.get("/api/v1/users/me").status_code == 401


# --- one user by id ------------------------------------------------------------------------

RETRIEVE_TABLE = [
    # caller, target, expected status
    ("user_a", "user_a", 200),
    ("user_a", "user_a_capable", 403),
    ("user_a", "admin_a", 403),
    ("user_a", "user_b", 403),
    ("user_a", "superuser", 403),
    ("user_a_capable", "user_a", 403),
    ("admin_a", "admin_a", 200),
    ("admin_a", "user_a", 200),
    ("admin_a", "user_b", 200),
    ("admin_a", "admin_b", 200),
    ("admin_a", "superuser", 200),
    ("admin_b", "user_a", 200),
    ("superuser", "superuser", 200),
    ("superuser", "user_a", 200),
    ("superuser", "admin_b", 200),
    ("anon", "user_a", 401),
]


@pytest.mark.parametrize(
    ("caller", "target", "expected"), RETRIEVE_TABLE, ids=[f"{c}->{t}" for c, t, _ in RETRIEVE_TABLE]
)
def test_who_may_read_whom(client_as, everyone, caller, target, expected):
    other = everyone[target]

    response = client_as(caller).get(f"{URL}{other.pk}")

    assert response.status_code == expected
    if expected == 200:
        assert response.json()["id"] == other.pk
        assert response.json()["email"] == other.email
    else:
        assert other.email not in response.content.decode()


@pytest.mark.parametrize("caller", ["user_a", "admin_a", "superuser"])
def test_a_missing_user_is_404(client_as, caller):
    missing = User.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000

    assert client_as(caller).get(f"{URL}{missing}").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users",
        "/api/v1/users/",
        "/api/v1/users/me",
        "/api/v1/users/me/",
        "/api/v1/users/{id}",
        "/api/v1/users/{id}/",
    ],
)
def test_every_path_answers_with_and_without_slash(client_as, everyone, path):
    response = client_as("superuser").get(path.format(id=everyone["user_a"].pk))

    assert response.status_code == 200
    assert "Location" not in response.headers
