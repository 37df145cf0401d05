"""The PostgreSQL backend: a health check free while the connection is idle and sound, a real
check once the server has closed it (pkiserver/db/postgresql); repeated statements prepared."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql import base as django_postgresql

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the health check belongs to the PostgreSQL backend")
    connection.ensure_connection()
    yield
    connection.close()


def _terminate_from_outside(pid: int) -> None:
    params = connection.get_connection_params()
    params.pop("context", None)
    params.pop("cursor_factory", None)
    with psycopg.connect(**{**params, "autocommit": True}) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_an_idle_sound_connection_passes_without_asking_the_server(monkeypatch):
    def no_round_trip(self):
        raise AssertionError("SELECT 1 was sent")

    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", no_round_trip)

    assert connection.is_usable() is True


def test_a_connection_the_server_closed_fails_the_check_and_is_replaced():
    pid = connection.connection.info.backend_pid
    _terminate_from_outside(pid)
    deadline = time.monotonic() + 10
    while connection.is_usable() and time.monotonic() < deadline:  # the notice travels asynchronously
        time.sleep(0.01)

    assert connection.is_usable() is False
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    with connection.cursor() as cursor:  # a new connection, to a new server process
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def test_a_connection_inside_a_transaction_is_checked_by_the_server(monkeypatch):
    asked = []
    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", lambda self: asked.append(1) or True)
    connection.connection.execute("BEGIN")
    try:
        assert connection.is_usable() is True
    finally:
        connection.connection.execute("ROLLBACK")

    assert asked == [1]


def test_a_statement_run_again_on_a_connection_is_prepared():
    with connection.cursor() as cursor:
        for _ in range(3):
            cursor.execute("SELECT count(*) FROM django_migrations WHERE app = %s", ["certificates"])
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]

    assert any("django_migrations" in statement and "$1" in statement for statement in prepared), prepared
