"""The suite-wide private-key watch (private_key_watch.py) classifies routes right and catches a leak."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.handlers.base import BaseHandler
from django.http import HttpResponse

from tests.security import private_key_watch as watch

pytestmark = pytest.mark.security

ROUTES = [
    ("POST", "/api/v1/cas/", True),
    ("POST", "/api/v1/cas", True),
    ("POST", "/api/v1/certificates/", True),
    ("POST", "/api/v1/certificates/12/renew", True),
    ("GET", "/api/v1/cas/3/private-key/", True),
    ("GET", "/api/v1/certificates/3/private-key", True),
    ("GET", "/api/v1/export/ca/3/private-key", True),
    ("GET", "/api/v1/export/certificate/3/private-key/", True),
    ("GET", "/api/v1/export/certificate/3/pkcs12", True),
    ("GET", "/api/v1/cas/", False),  # the list
    ("GET", "/api/v1/cas/3", False),
    ("GET", "/api/v1/certificates/3", False),
    ("POST", "/api/v1/certificates/sign-csr", False),  # the caller keeps its key
    ("POST", "/api/v1/certificates/3/revoke", False),
    ("GET", "/api/v1/export/certificate/3/chain", False),
    ("DELETE", "/api/v1/cas/3/private-key", False),
    ("GET", "/api/v1/cas/3/private-key/extra", False),
    ("GET", "/admin/certificates/certificateauthority/3/change/", False),
]


@pytest.mark.parametrize(("method", "path", "allowed"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_private_key_routes(method, path, allowed):
    assert watch.is_private_key_route(method, path) is allowed


def _request(method: str, path: str) -> SimpleNamespace:
    return SimpleNamespace(method=method, path_info=path, get_full_path=lambda: path)


def test_a_key_outside_the_routes_is_recorded_and_one_inside_is_not(monkeypatch):
    monkeypatch.setattr(watch, "leaks", [])
    key = HttpResponse(b"-----BEGIN PRIVATE KEY-----\n...")

    watch.inspect(_request("GET", "/api/v1/cas/3/private-key"), key)
    assert watch.leaks == []
    watch.inspect(_request("GET", "/api/v1/cas/3"), key)
    assert watch.leaks == ["GET /api/v1/cas/3 -> 200"]
    watch.leaks.clear()  # else this test's report would (rightly) be failed by the watch


def test_the_watch_sees_every_answer_of_the_test_client(client, db):
    # Installed once for the session, around the handler every test client and WSGI call uses.
    assert hasattr(BaseHandler.get_response, "__wrapped__")
    before = watch.counts["checked"]

    client.get("/healthz")

    assert watch.counts["checked"] == before + 1
