"""Security headers: nosniff on the API, frame denial on the admin, HSTS on HTTPS only, CORS for
configured origins only, HTTPS redirect that spares the relying parties' routes, secure cookies."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import PASSWORD, UserFactory
from tests.security.conftest import jwt_client

pytestmark = pytest.mark.security

ALLOWED = "https://app.example.com"


@pytest.fixture
def production(settings):
    """What settings.py derives for a deployment behind a TLS-terminating proxy."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_SSL_REDIRECT = False
    return settings


@pytest.mark.parametrize("path", ["/api/v1/users/me", "/api/v1/cas/", "/api/v1/openapi.json", "/api/v1/nowhere"])
def test_api_answers_are_nosniff(tenant_a, path):
    response = jwt_client(tenant_a.admin).get(path)

    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/admin/login/", "/admin/"])
def test_admin_pages_cannot_be_framed(db, path):
    response = Client().get(path)

    assert response["X-Frame-Options"] == "DENY"


def test_hsts_is_sent_on_https_requests(production, tenant_a):
    api = jwt_client(tenant_a.admin)

    response = api.get("/api/v1/users/me", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000"


def test_hsts_is_never_sent_over_plain_http(production, tenant_a):
    response = jwt_client(tenant_a.admin).get("/api/v1/users/me")

    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response


def test_the_forwarded_proto_header_is_ignored_unless_behind_a_proxy(settings, tenant_a):
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.SECURE_HSTS_SECONDS = 31536000

    response = jwt_client(tenant_a.admin).get("/api/v1/users/me", HTTP_X_FORWARDED_PROTO="https")

    assert "Strict-Transport-Security" not in response


@pytest.mark.parametrize(
    ("path", "redirected"),
    [("/api/v1/users/me", True), ("/admin/", True), ("/healthz", False), ("/readyz", False),
     ("/crl/{slug}", False), ("/crl/{slug}.pem", False), ("/ca/{slug}.crt", False), ("/ocsp/{slug}", False)],
)  # fmt: skip
def test_https_redirect_spares_crl_ocsp_ca_and_health(production, tenant_a, path, redirected):
    production.SECURE_SSL_REDIRECT = True

    response = Client().get(path.format(slug=tenant_a.ca.slug))

    if redirected:
        assert response.status_code == 301
        assert response["Location"].startswith("https://")
    else:
        assert response.status_code == 200


def test_cors_allows_a_configured_origin(settings, tenant_a):
    settings.CORS_ALLOWED_ORIGINS = [ALLOWED]

    response = jwt_client(tenant_a.admin).get("/api/v1/users/me", HTTP_ORIGIN=ALLOWED)
    preflight = Client().options(
        "/api/v1/cas/", HTTP_ORIGIN=ALLOWED, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type",
    )  # fmt: skip

    assert response["Access-Control-Allow-Origin"] == ALLOWED
    assert "X-Total-Count" in response["Access-Control-Expose-Headers"]
    assert preflight["Access-Control-Allow-Origin"] == ALLOWED
    assert "authorization" in preflight["Access-Control-Allow-Headers"].lower()


@pytest.mark.parametrize(
    "origin", ["https://evil.example.com", "https://app.example.com.evil.com", "http://app.example.com", "null"]
)
def test_cors_ignores_other_origins(settings, tenant_a, origin):
    settings.CORS_ALLOWED_ORIGINS = [ALLOWED]

    response = jwt_client(tenant_a.admin).get("/api/v1/users/me", HTTP_ORIGIN=origin)
    preflight = Client().options("/api/v1/cas/", HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")

    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Origin" not in preflight
    assert "Access-Control-Allow-Credentials" not in response


def test_no_origin_is_allowed_by_default(settings, tenant_a):
    from pkiserver.env import env_origins

    assert env_origins("PKISERVER_TEST_UNSET_ORIGINS") == []  # what BACKEND_CORS_ORIGINS unset gives
    settings.CORS_ALLOWED_ORIGINS = []

    response = jwt_client(tenant_a.admin).get("/api/v1/users/me", HTTP_ORIGIN=ALLOWED)

    assert "Access-Control-Allow-Origin" not in response


def test_admin_cookies_are_secure_only(settings, db):
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    UserFactory(username="root", role="superuser")
    browser = Client(enforce_csrf_checks=True)
    login_page = browser.get("/admin/login/")

    response = browser.post(
        "/admin/login/",
        {"username": "root", "password": PASSWORD, "csrfmiddlewaretoken": login_page.context["csrf_token"]},
    )

    assert response.status_code == 302, response.content[:300]
    assert browser.cookies["csrftoken"]["secure"] is True
    assert response.cookies["sessionid"]["secure"] is True
    assert response.cookies["sessionid"]["httponly"] is True
