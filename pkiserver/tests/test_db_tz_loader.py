"""The PostgreSQL backend reads timestamps with psycopg's default (compiled) parser and gives the
values Django's own loader gives (pkiserver/db/postgresql)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg.pq import Format

from certificates.models import Certificate
from certificates.tests.conftest import create_ca, issue_certificate
from pkiserver.db.postgresql.base import TIMESTAMPTZ_OID, TzLoader

TEXTS = [
    "2026-12-02 08:00:00+00",
    "2026-12-02 08:00:00.123456+00",
    "2026-12-02 08:00:00.5+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


@pytest.fixture(autouse=True)
def _postgresql_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("the loader belongs to the PostgreSQL backend")


def _djangos(zone):
    return type("DjangoLoader", (BaseTzLoader,), {"timezone": zone})(TIMESTAMPTZ_OID, connection.connection)


def test_the_connection_reads_timestamps_with_it_in_its_own_zone():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)

    assert issubclass(loader, TzLoader) and loader.timezone == connection.timezone
    assert TzLoader.parser is psycopg.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    assert not issubclass(TzLoader.parser, BaseTzLoader)  # psycopg's own, not Django's subclass


@pytest.mark.parametrize("text", TEXTS)
def test_a_value_read_from_the_server_is_what_djangos_loader_gives(text):
    with connection.cursor() as cursor:
        cursor.execute("SELECT CAST(%s AS timestamptz), CAST(CAST(%s AS timestamptz) AS text)", [text, text])
        value, as_text = cursor.fetchone()

    expected = _djangos(connection.timezone).load(as_text.encode())
    assert value == expected and value.tzinfo is expected.tzinfo and value.tzinfo is not None


@pytest.mark.parametrize("zone", ["utc", None], ids=["aware", "naive"])
def test_it_loads_as_djangos_loader_with_or_without_a_zone(zone):
    connection.ensure_connection()
    zone = connection.timezone if zone else None
    ours = type("Ours", (TzLoader,), {"timezone": zone})(TIMESTAMPTZ_OID, connection.connection)

    for text in TEXTS:
        mine, django = ours.load(text.encode()), _djangos(zone).load(text.encode())
        assert (mine, mine.tzinfo) == (django, django.tzinfo), text
    for bad in (b"infinity", b"-infinity"):
        with pytest.raises(psycopg.DataError):
            ours.load(bad)


def test_a_certificate_reads_back_with_its_timestamps(admin_a):
    ca = create_ca(admin_a, "Loader CA")
    cert = issue_certificate(admin_a, ca, "loader.example.com")

    stored = Certificate.objects.get(pk=cert.pk)

    assert (stored.not_before, stored.not_after) == (cert.not_before, cert.not_after)
    assert stored.created_at == cert.created_at and stored.created_at.tzinfo is connection.timezone
