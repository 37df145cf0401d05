"""A database connection error answers 503 JSON on every kind of route, in-process (any database).

test_database_outage.py stops a real PostgreSQL; this one raises the errors psycopg and sqlite3
raise when the server is gone, on routes outside DRF (public PKI views) and inside it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client

from accounts.authentication import BearerAuthentication
from certificates import services
from certificates.services import public

pytestmark = pytest.mark.reliability


def _fail_with(error: Exception) -> Callable[..., None]:
    def fail(*args: object, **kwargs: object) -> None:
        raise error

    return fail


ROUTES = {
    "crl": ("get", "/crl/root-1", services, "crl_by_slug"),
    "crl-pem": ("get", "/crl/root-1.pem", services, "crl_by_slug"),
    "ca-certificate": ("get", "/ca/root-1.crt", services, "ca_by_slug"),
    "ocsp": ("post", "/ocsp/root-1", public, "ca_by_slug"),  # called inside ocsp_respond
    "api": ("get", "/api/v1/users/me", BearerAuthentication, "authenticate"),  # its session lookup
}
ERRORS = {
    "connection-refused": OperationalError('connection failed: connection to server at "127.0.0.1", port 5432 failed'),
    "connection-closed": InterfaceError("connection already closed"),
}


@pytest.mark.parametrize("error", ERRORS.values(), ids=ERRORS.keys())
@pytest.mark.parametrize(("method", "path", "owner", "name"), ROUTES.values(), ids=ROUTES.keys())
def test_database_errors_answer_503_json(monkeypatch, method, path, owner, name, error):
    monkeypatch.setattr(owner, name, _fail_with(error))
    response = getattr(Client(raise_request_exception=False), method)(path)

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "The database is unavailable; try again shortly.",
        "code": "service_unavailable",
    }
    assert response["Retry-After"] == "5"
    assert b"Traceback" not in response.content and b"5432" not in response.content


def test_other_errors_still_answer_500(monkeypatch):
    monkeypatch.setattr(services, "crl_by_slug", _fail_with(RuntimeError("a bug")))

    response = Client(raise_request_exception=False).get("/crl/root-1")

    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
