"""Liveness and readiness probes: `/healthz` and `/readyz`."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection
from django.test import Client

from certificates import keystore


@pytest.fixture
def probe() -> Client:
    return Client()


def test_healthz(probe: Client) -> None:
    response = probe.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_when_ready(probe: Client) -> None:
    response = probe.get("/readyz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ready", "database": "ok", "encryption_key": "ok"}


@pytest.mark.django_db
def test_readyz_when_the_database_is_down(probe: Client, monkeypatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(connection, "cursor", refuse)

    response = probe.get("/readyz")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert data["status"] == "not ready"
    assert data["database"].startswith("unavailable")
    assert "could not connect" not in data["database"]  # no internals for an anonymous probe
    assert data["encryption_key"] == "ok"


@pytest.mark.django_db
def test_readyz_when_the_encryption_key_is_unusable(probe: Client, monkeypatch) -> None:
    def broken(pem: str) -> str:
        raise ValueError("bad key")

    monkeypatch.setattr(keystore, "encrypt", broken)

    response = probe.get("/readyz")

    assert response.status_code == 503
    assert response.json()["encryption_key"].startswith("unusable")
    assert response.json()["database"] == "ok"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_need_no_authentication_and_ignore_bad_tokens(path: str, db) -> None:
    response = Client(HTTP_AUTHORIZATION="Bearer not-a-token").get(path)

    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_read_only(probe: Client, path: str) -> None:
    assert probe.post(path).status_code == 405


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_head_works_for_load_balancers(probe: Client, path: str, db) -> None:
    assert probe.head(path).status_code == 200
