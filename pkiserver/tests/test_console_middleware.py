"""The admin console's session, auth and messages middleware run for the console's paths only."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

from pkiserver.middleware import ConsoleSessionMiddleware


def _seen(path: str, cookies: dict[str, str] | None = None) -> dict[str, bool]:
    seen = {}

    def view(request):
        seen.update(
            session=hasattr(request, "session"), user=hasattr(request, "user"), messages=hasattr(request, "_messages")
        )
        return HttpResponse("ok")

    request = RequestFactory().get(path)
    request.COOKIES.update(cookies or {})
    ConsoleSessionMiddleware(view)(request)
    return seen


@pytest.mark.parametrize("path", ["/admin/", "/admin/login/", "/admin/certificates/certificate/"])
def test_console_paths_get_a_session_a_user_and_messages(path, db):
    assert _seen(path) == {"session": True, "user": True, "messages": True}


@pytest.mark.parametrize(
    "path", ["/api/v1/users/me", "/api/v1/certificates/sign-csr", "/ocsp/root-ca", "/crl/root-ca.crl", "/healthz"]
)
def test_api_and_public_paths_skip_them_even_with_a_session_cookie(path):
    assert _seen(path, {settings.SESSION_COOKIE_NAME: "x" * 32}) == {"session": False, "user": False, "messages": False}


def test_it_is_installed_in_place_of_the_three_and_the_admin_checks_pass():
    for replaced in (SessionMiddleware, AuthenticationMiddleware, MessageMiddleware):
        assert issubclass(ConsoleSessionMiddleware, replaced)
        assert f"{replaced.__module__}.{replaced.__name__}" not in settings.MIDDLEWARE
    assert "pkiserver.middleware.ConsoleSessionMiddleware" in settings.MIDDLEWARE
    from django.contrib.admin.checks import check_dependencies

    assert check_dependencies() == []


def test_a_console_login_sets_its_session_cookie_and_an_api_answer_sets_none(client, superuser, client_for):
    superuser.set_password("Console-pass-123!")
    superuser.save()

    login = client.post("/admin/login/?next=/admin/", {"username": superuser.username, "password": "Console-pass-123!"})
    assert login.status_code == 302 and login["Location"] == "/admin/"
    assert settings.SESSION_COOKIE_NAME in login.cookies
    assert client.get("/admin/").status_code == 200  # the session cookie logs the browser in

    api = client_for(superuser).get("/api/v1/users/me")
    assert api.status_code == 200 and not api.cookies and "Cookie" not in api.get("Vary", "")

    # The browser's console session is no credential for the API: the same client, cookie and all,
    # is refused there (a page elsewhere cannot make the browser call the API as the admin).
    assert client.cookies[settings.SESSION_COOKIE_NAME].value
    for path in ("/api/v1/users/me", "/api/v1/certificates/"):
        refused = client.get(path)
        assert refused.status_code == 401, (path, refused.content)
        assert not refused.cookies and "Cookie" not in refused.get("Vary", "")


@pytest.mark.parametrize("name", ["admin:index", "admin:login", "admin:certificates_certificate_changelist"])
def test_the_console_is_mounted_where_the_middleware_looks(name, db):
    from django.urls import reverse

    from pkiserver.middleware import CONSOLE_PREFIX

    path = reverse(name)
    assert path.startswith(CONSOLE_PREFIX)
    assert _seen(path) == {"session": True, "user": True, "messages": True}
