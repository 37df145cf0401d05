"""How a CA's CRL is stored: the DER in the last column, and migration 0004 moving it there intact."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from certificates import keystore
from certificates import x509 as pki
from certificates.models import RevocationList

BEFORE = [("certificates", "0003_crl_and_status_indexes")]
AFTER = [("certificates", "0004_revocationlist_der_last")]
# What a CRL fetch reads of the row before taking the DER from its cache.
METADATA_COLUMNS = ["ca_id", "number", "this_update", "next_update", "entries"]


def columns() -> list[str]:
    with connection.cursor() as cursor:
        return [c.name for c in connection.introspection.get_table_description(cursor, RevocationList._meta.db_table)]


@pytest.fixture
def migrate() -> Iterator[Any]:
    """Migrates the test database to the given targets and returns the models of that state;
    brings every app back to its latest migration afterwards."""

    def to(targets: list[tuple[str, str]]) -> Any:
        executor = MigrationExecutor(connection)
        executor.migrate(targets)
        return executor.loader.project_state(targets).apps

    yield to
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def store_crl(apps: Any, name: str, revoked: int, now: datetime) -> tuple[int, dict[str, Any]]:
    """A root CA and its signed CRL of `revoked` entries, saved with the models of `apps`."""
    key = pki.generate_private_key(pki.KeySpec("ecdsa", 256))
    cert = pki.build_root_ca(
        subject=pki.parse_subject(f"CN={name},O=Acme"), key=key, serial=pki.random_serial(),
        not_before=now - timedelta(days=1), not_after=now + timedelta(days=365), path_length=None,
    )  # fmt: skip
    ca = apps.get_model("certificates", "CertificateAuthority").objects.create(
        name=name, subject_dn=f"CN={name},O=Acme", key_algorithm="ecdsa", key_size=256, valid_days=365,
        certificate=pki.certificate_to_pem(cert), private_key=keystore.encrypt(pki.private_key_to_pem(key)),
        serial_number=format(cert.serial_number, "x"), not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )  # fmt: skip
    entries = [pki.RevokedEntry(pki.random_serial(), now - timedelta(hours=1)) for _ in range(revoked)]
    crl = pki.build_crl(
        issuer_cert=cert, issuer_key=key, entries=entries, crl_number=3, this_update=now,
        next_update=now + timedelta(hours=24),
    )  # fmt: skip
    stored = {"number": 3, "der": pki.crl_to_der(crl), "this_update": now, "next_update": now + timedelta(hours=24)}
    stored["entries"] = revoked
    apps.get_model("certificates", "RevocationList").objects.create(ca_id=ca.pk, **stored)
    return ca.pk, stored


def store_large_and_empty(apps: Any, now: datetime) -> dict[int, dict[str, Any]]:
    """Two CRLs: 3,000 entries (about 100 KB, a blob over many database pages) and none."""
    return dict(store_crl(apps, name, size, now) for name, size in (("Large CRL Root", 3000), ("Small CRL Root", 0)))


def stored_crls(apps: Any) -> dict[int, dict[str, Any]]:
    rows = apps.get_model("certificates", "RevocationList").objects.values(*METADATA_COLUMNS, "der")
    return {row.pop("ca_id"): {**row, "der": bytes(row["der"])} for row in rows}


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_each_crl_and_moves_der_last(migrate) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    stored = store_large_and_empty(migrate(BEFORE), now)

    new = migrate(AFTER)

    assert stored_crls(new) == stored
    assert max(len(crl["der"]) for crl in stored.values()) > 100_000
    assert columns() == [*METADATA_COLUMNS, "der"]


@pytest.mark.django_db(transaction=True)
def test_a_crl_stored_before_the_migration_is_served_unchanged(migrate) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ca_id, stored = store_crl(migrate(BEFORE), "Served CRL Root", 50, now)

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    response = Client().get(f"/crl/{pki.slugify_ca('Served CRL Root', ca_id)}")

    assert response.status_code == 200
    assert response.content == stored["der"]  # the stored CRL, not a rebuilt one
    assert response["ETag"] == f'"crl-{ca_id}-3"'


@pytest.mark.django_db(transaction=True)
def test_migrating_back_keeps_each_crl(migrate) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    stored = store_large_and_empty(migrate(AFTER), now)

    old = migrate(BEFORE)

    assert stored_crls(old) == stored


@pytest.mark.django_db
def test_der_is_stored_after_what_a_fetch_reads() -> None:
    """A fetch reads number and dates only (the DER comes from the process's cache): before the
    blob, SQLite reads them without walking its overflow pages."""
    assert columns() == [*METADATA_COLUMNS, "der"]
