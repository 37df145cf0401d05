"""API conventions (SPEC §1): optional trailing slash, JSON errors, schema and docs, flat query counts."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tokens import session_start
from audit.models import AuditAction
from audit.services import audit_record
from orgs.models import Organization
from tests.factories import PASSWORD, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"


# --- every route answers with and without the trailing slash ------------------------------


def _form(**fields: str) -> dict:
    return {"data": urlencode(fields), "content_type": "application/x-www-form-urlencoded"}


# (method, path, request kwargs, expected status); the {placeholders} are filled in per test.
ROUTES = [
    ("get", "users", {}, 200),
    (
        "post",
        "users",
        {"data": {"username": "newbie", "email": "newbie@example.com", "password": "a-long-pass-9"}},
        201,
    ),
    ("get", "users/me", {}, 200),
    ("get", "users/{uid}", {}, 200),
    ("patch", "users/{uid}", {"data": {"can_create_cert": True}}, 200),
    ("put", "users/{uid}", {"data": {"can_create_cert": True}}, 200),
    ("delete", "users/{uid}", {}, 204),
    ("get", "organizations", {}, 200),
    ("post", "organizations", {"data": {"name": "Newco"}}, 201),
    ("get", "organizations/{org}", {}, 200),
    ("put", "organizations/{org}", {"data": {"description": "changed"}}, 200),
    ("patch", "organizations/{org}", {"data": {"description": "changed"}}, 200),
    ("delete", "organizations/{empty}", {}, 204),
    ("get", "organizations/{org}/users", {}, 200),
    ("post", "organizations/{org}/users/{uid}", {}, 200),
    ("delete", "organizations/{org}/users/{member}", {}, 200),
    ("get", "audit-logs", {}, 200),
    ("post", "auth/token", _form(username="root", password=PASSWORD), 200),
    ("post", "auth/refresh", {"data": {"refresh_token": "{refresh}"}}, 200),
    ("post", "auth/logout", {}, 204),
    ("post", "auth/invalidate", {}, 204),
]


@pytest.mark.parametrize("slash", ["", "/"], ids=["bare", "slash"])
@pytest.mark.parametrize(("method", "path", "kwargs", "expected"), ROUTES, ids=[f"{m}-{p}" for m, p, _, _ in ROUTES])
def test_every_route_answers_with_and_without_the_slash(
    client_for, superuser, org_a, method, path, kwargs, expected, slash
):
    ids = {
        "org": org_a.pk,
        "uid": UserFactory(username="loner").pk,
        "member": UserFactory(username="member", organization=org_a).pk,
        "empty": OrganizationFactory(name="Empty").pk,
    }
    url = f"{API}/{path}{slash}".format(**ids)
    if isinstance(kwargs.get("data"), dict):
        refresh = session_start(user=superuser).refresh_token
        data = {k: v.format(refresh=refresh) if isinstance(v, str) else v for k, v in kwargs["data"].items()}
        kwargs = {**kwargs, "data": data}

    response = getattr(client_for(superuser), method)(url, **kwargs)

    assert response.status_code not in (301, 302, 307, 308)
    assert "Location" not in response
    assert response.status_code == expected, response.content


# --- errors are JSON with `detail` and `code` ---------------------------------------------


def _json_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    return body


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing-here", "/api/v1/nothing/here/", "/api/v1/users/abc", "/api/v1/organizations/1/members"]
)
def test_unknown_api_routes_answer_404_json(client_for, superuser, path):
    _json_error(client_for(superuser).get(path), 404)


def test_unknown_route_is_404_json_for_anonymous_callers_too(anon):
    _json_error(anon.get("/api/v1/nothing-here/"), 404)


def test_missing_object_is_404_json(client_for, superuser):
    _json_error(client_for(superuser).get(f"{API}/organizations/999999"), 404)


def test_denied_is_403_not_enough_permissions(client_for, user_a):
    body = _json_error(client_for(user_a).get(f"{API}/users/"), 403)

    assert body["detail"] == "Not enough permissions"


@pytest.mark.parametrize("header", [None, "Bearer not-a-jwt", "Basic cm9vdDpwYXNz", "Bearer"])
def test_unauthenticated_is_401_with_bearer_challenge(anon, header):
    if header:
        anon.credentials(HTTP_AUTHORIZATION=header)

    response = anon.get(f"{API}/users/me")

    _json_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_validation_errors_name_the_field(client_for, superuser):
    response = client_for(superuser).post(
        f"{API}/users/", {"username": "ok_name", "email": "not-an-email", "password": "a-long-pass-9"}
    )

    body = _json_error(response, 400)
    assert set(body["errors"]) == {"email"}
    assert "email" in body["detail"]


def test_malformed_json_is_400_not_500(client_for, superuser):
    response = client_for(superuser).post(f"{API}/organizations/", "{not json", content_type="application/json")

    _json_error(response, 400)
    assert not Organization.objects.exists()


def test_an_unsupported_method_is_405_json(client_for, superuser):
    _json_error(client_for(superuser).put(f"{API}/audit-logs/", {}), 405)


# --- schema and docs ----------------------------------------------------------------------


def test_openapi_schema_is_openapi_3_json_listing_the_api(anon):
    response = anon.get(f"{API}/openapi.json")

    assert response.status_code == 200
    assert "json" in response["Content-Type"]
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = {p.rstrip("/") for p in schema["paths"]}
    for expected in [
        "/api/v1/users",
        "/api/v1/users/me",
        "/api/v1/users/{id}",
        "/api/v1/organizations",
        "/api/v1/organizations/{id}",
        "/api/v1/organizations/{id}/users",
        "/api/v1/organizations/{id}/users/{user_id}",
        "/api/v1/audit-logs",
        "/api/v1/auth/token",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/invalidate",
    ]:
        assert expected in paths
    bearer = [s for s in schema["components"]["securitySchemes"].values() if s.get("scheme") == "bearer"]
    assert bearer, "the bearer login must be described"


def test_openapi_schema_describes_real_bodies(anon):
    schema = anon.get(f"{API}/openapi.json").json()
    by_path = {p.rstrip("/"): ops for p, ops in schema["paths"].items()}
    components = schema["components"]["schemas"]

    def props(ref: dict) -> set[str]:
        return set(components[ref["$ref"].rsplit("/", 1)[1]]["properties"])

    create_body = by_path["/api/v1/organizations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"name", "description"} <= props(create_body)
    user_answer = by_path["/api/v1/users/me"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"id", "username", "role", "organization_id", "can_create_ca"} <= props(user_answer)
    audit_list = by_path["/api/v1/audit-logs"]["get"]
    assert {"action", "since", "until", "skip", "limit"} <= {p["name"] for p in audit_list["parameters"]}


@pytest.mark.parametrize("path", ["docs", "docs/", "redoc", "redoc/"])
def test_docs_pages_are_html(anon, path):
    response = anon.get(f"{API}/{path}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"openapi.json" in response.content


# --- a list costs the same number of queries however long it is ---------------------------


def _users(n: int, org) -> None:
    UserFactory.create_batch(n, organization=org)


def _orgs(n: int, org) -> None:
    OrganizationFactory.create_batch(n)


def _audit(n: int, org) -> None:
    for i in range(n):
        audit_record(action=AuditAction.ORG_UPDATE, organization_id=org.pk, detail=str(i))


LISTS = [
    ("users", _users),
    ("organizations", _orgs),
    ("organizations/{org}/users", _users),
    ("audit-logs", _audit),
]


@pytest.mark.parametrize(("path", "grow"), LISTS, ids=[p for p, _ in LISTS])
def test_list_query_count_does_not_grow(client_for, superuser, org_a, path, grow):
    client = client_for(superuser)
    url = f"{API}/{path}".format(org=org_a.pk)

    def count_queries(expected_rows: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"limit": 1000})
        assert response.status_code == 200
        assert len(response.json()) >= expected_rows
        return len(queries)

    grow(3, org_a)
    few = count_queries(3)
    grow(27, org_a)
    many = count_queries(30)

    assert many == few


def test_a_lost_race_in_the_database_is_a_409_to_retry_not_a_503():
    """A deadlock or serialization failure rolled the transaction back: tell the client to retry."""
    import psycopg.errors
    from django.db import OperationalError

    from pkiserver.api.errors import exception_handler

    for cause in (psycopg.errors.DeadlockDetected(), psycopg.errors.SerializationFailure()):
        error = OperationalError("lost a race")
        error.__cause__ = cause
        response = exception_handler(error, {})
        assert response.status_code == 409
        assert response.data["code"] == "concurrent_update"
        assert response["Retry-After"] == "1"
    outage = OperationalError("connection refused")
    assert exception_handler(outage, {}).status_code == 503
