"""The admin console logs in with a session; the API and the public PKI routes never take that
session as a credential, nor answer with a session cookie."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.admin.checks import check_dependencies
from django.urls import reverse


def _console_login(client, superuser) -> None:
    superuser.set_password("Console-pass-123!")
    superuser.save()
    login = client.post("/admin/login/?next=/admin/", {"username": superuser.username, "password": "Console-pass-123!"})
    assert login.status_code == 302 and login["Location"] == "/admin/"
    assert settings.SESSION_COOKIE_NAME in login.cookies


def test_the_admin_finds_the_middleware_it_needs():
    assert check_dependencies() == []


def test_a_console_login_sets_its_session_cookie_and_an_api_answer_sets_none(client, superuser, client_for):
    _console_login(client, superuser)
    assert client.get("/admin/").status_code == 200  # the session cookie logs the browser in

    api = client_for(superuser).get("/api/v1/users/me")
    assert api.status_code == 200 and not api.cookies and "Cookie" not in api.get("Vary", "")

    # The browser's console session is no credential for the API: the same client, cookie and all,
    # is refused there (a page elsewhere cannot make the browser call the API as the admin).
    assert client.cookies[settings.SESSION_COOKIE_NAME].value
    for path in ("/api/v1/users/me", "/api/v1/certificates/", "/api/v1/cas/"):
        refused = client.get(path)
        assert refused.status_code == 401, (path, refused.content)
        assert not refused.cookies and "Cookie" not in refused.get("Vary", "")


def test_a_console_session_cannot_write_through_the_api(client, superuser):
    _console_login(client, superuser)

    refused = client.post("/api/v1/organizations/", {"name": "Made by a cookie"}, content_type="application/json")

    assert refused.status_code in (401, 403), refused.content
    assert client.get("/api/v1/organizations/").status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/users/me"])
def test_public_and_api_answers_set_no_cookie_even_when_one_is_sent(client, db, path):
    client.cookies[settings.SESSION_COOKIE_NAME] = "x" * 32

    response = client.get(path)

    assert not response.cookies and "Cookie" not in response.get("Vary", "")


@pytest.mark.parametrize("name", ["admin:index", "admin:certificates_certificate_changelist"])
def test_the_console_pages_answer_with_a_session(client, superuser, name):
    _console_login(client, superuser)

    assert client.get(reverse(name)).status_code == 200
