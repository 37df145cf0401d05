"""Every error outside the admin console is JSON (SPEC §1): on the public PKI and health routes too,
for Django's own refusals (405, 404, CSRF), for a chunked body without a length (411) and for a
request line past 8 KiB (414). Through Django's test client; test_live_json_errors.py does the
same against gunicorn."""

from __future__ import annotations

import runpy
from pathlib import Path

import gunicorn.util
import pytest
from django.test import Client, RequestFactory

from accounts.models import User
from certificates.models import CertificateAuthority
from certificates.tests.conftest import create_ca
from pkiserver.api.errors import csrf_failure
from pkiserver.middleware import MAX_REQUEST_LINE
from tests.security.conftest import jwt_client

pytestmark = pytest.mark.security

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def slug(admin_a) -> str:
    return create_ca(admin_a, "Public Root").slug


@pytest.fixture
def browser() -> Client:
    """A client that enforces CSRF, as a browser's cross-site POST meets it."""
    return Client(enforce_csrf_checks=True)


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code and body["detail"]
    return body


PUBLIC_GET_ONLY = ["/crl/{slug}", "/crl/{slug}.pem", "/crl/{slug}.crl", "/ca/{slug}.crt", "/ca/{slug}.pem", "/healthz",
                   "/readyz"]  # fmt: skip


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize("route", PUBLIC_GET_ONLY)
def test_a_method_a_public_route_does_not_take_is_405_json(browser, slug, route, method):
    response = getattr(browser, method)(route.format(slug=slug))

    body = assert_json_error(response, 405, "method_not_allowed")
    assert body["detail"] == f'Method "{method.upper()}" not allowed.'
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_ocsp_takes_get_and_post_only(browser, slug, method):
    response = getattr(browser, method)(f"/ocsp/{slug}")

    assert_json_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, POST"


@pytest.mark.parametrize("path", ["/nowhere", "/crl/no-such-ca-999", "/ocsp/no-such-ca-999", "/api/v1/nowhere"])
def test_what_does_not_exist_is_404_json(browser, db, path):
    assert_json_error(browser.get(path), 404, "not_found")


def test_a_csrf_refusal_is_json_outside_the_console_and_django_s_page_inside():
    factory = RequestFactory()

    outside = csrf_failure(factory.post("/api/v1/somewhere"), reason="CSRF cookie not set.")
    inside = csrf_failure(factory.post("/admin/login/"), reason="CSRF cookie not set.")

    assert outside.status_code == inside.status_code == 403
    assert outside["Content-Type"] == "application/json"
    assert b'"csrf_failed"' in outside.content and b"CSRF cookie not set." in outside.content
    assert inside["Content-Type"].startswith("text/html")


def test_the_console_keeps_its_html_pages(browser, db):
    # The admin console's own answers stay HTML (SPEC §1 sets them aside), a CSRF refusal included.
    response = browser.post("/admin/login/", {"username": "x", "password": "y"})

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


# --- 411: Django reads a chunked body as empty, so it is refused before any view --------------


def _chunked(client, path: str, body: bytes, content_type: str = "application/json", **extra):
    # What a WSGI server hands over for `Transfer-Encoding: chunked`: the header and no length.
    return client.generic(
        "POST", path, body, content_type, HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="", **extra
    )


def test_a_chunked_create_is_411_not_field_required(tenant_a):
    api = jwt_client(tenant_a.admin)
    before = CertificateAuthority.objects.count()

    response = _chunked(api, "/api/v1/cas/", b'{"name": "Chunked", "subject_dn": "CN=Chunked"}')

    assert_json_error(response, 411, "length_required")
    assert CertificateAuthority.objects.count() == before


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/auth/token", "application/x-www-form-urlencoded"),
        ("/api/v1/users/", "application/json"),
        ("/ocsp/{slug}", "application/ocsp-request"),
    ],
    ids=["token", "users", "ocsp"],
)
def test_a_chunked_body_is_411_on_every_route(client, slug, path, content_type):
    users = User.objects.count()

    response = _chunked(client, path.format(slug=slug), b"username=a&password=b", content_type)

    assert_json_error(response, 411, "length_required")
    assert User.objects.count() == users


def test_a_body_with_its_length_is_read_as_before(client, db):
    response = client.post("/api/v1/auth/token", {"username": "nobody", "password": "wrong-password"})

    assert response.status_code == 401


# --- 414: request lines up to 8 KiB reach the application, longer ones do not --------------------


def _ocsp_get(slug: str, line_length: int) -> str:
    """An OCSP GET path whose request line ("GET <path> HTTP/1.1") is `line_length` bytes."""
    path = f"/ocsp/{slug}/"
    return path + "A" * (line_length - len("GET ") - len(path) - len(" HTTP/1.1"))


def test_a_request_line_of_8_kib_reaches_the_application(client, slug):
    response = client.get(_ocsp_get(slug, MAX_REQUEST_LINE))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/ocsp-response"  # OCSP's own malformedRequest


@pytest.mark.parametrize("length", [MAX_REQUEST_LINE + 1, 20_000, 70_000])
def test_a_longer_request_line_is_414_json(client, slug, length):
    assert_json_error(client.get(_ocsp_get(slug, length)), 414, "uri_too_long")


def test_the_application_and_gunicorn_agree_on_the_limit(monkeypatch):
    monkeypatch.setattr(gunicorn.util, "write_error", gunicorn.util.write_error)  # restored afterwards

    config = runpy.run_path(str(REPO / "gunicorn.conf.py"))

    assert config["limit_request_line"] == MAX_REQUEST_LINE == 8190  # 8 KiB with the line's CRLF
