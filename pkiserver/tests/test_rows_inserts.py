"""Inserts: new rows written by a statement compiled once, read back exactly as the ORM's own
INSERT would leave them; a row and the row that names it in one statement on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from audit.models import AuditAction, AuditLog
from audit.services import audit_entry
from certificates.models import Certificate
from certificates.tests.conftest import create_ca, issue_certificate
from orgs.models import Organization
from pkiserver.db.rows import Inserts

SET_BY_THE_DATABASE = {"id", "created_at", "updated_at"}


def _columns(obj) -> dict:
    obj = type(obj).objects.get(pk=obj.pk)
    return {
        f.attname: getattr(obj, f.attname)
        for f in type(obj)._meta.concrete_fields
        if f.attname not in SET_BY_THE_DATABASE
    }


def _copy(obj, **changes):
    fields = {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}
    fields.update(id=None, created_at=None, updated_at=None, **changes)
    return type(obj)(**fields)


def test_a_certificate_written_by_inserts_reads_back_as_the_orms(admin_a):
    original = issue_certificate(admin_a, create_ca(admin_a, "Inserts CA"), "rows.example.com")
    by_orm = _copy(original, serial_number="01", san_ip_addresses=["192.0.2.7"], private_key=None)
    by_inserts = _copy(original, serial_number="02", san_ip_addresses=["192.0.2.7"], private_key=None)

    by_orm.save()
    Inserts(Certificate).insert(by_inserts)

    assert by_inserts.pk is not None and by_inserts.pk != by_orm.pk
    assert not by_inserts._state.adding
    assert _columns(by_inserts) == {**_columns(by_orm), "serial_number": "02"}
    stored = Certificate.objects.get(pk=by_inserts.pk)
    assert stored.created_at == by_inserts.created_at and stored.updated_at == by_inserts.updated_at  # auto_now


def test_an_audit_entry_written_by_inserts_reads_back_as_the_orms(superuser):
    fields = {"action": AuditAction.ORG_UPDATE, "actor": superuser, "organization_id": None, "detail": "é ✓"}
    by_orm = audit_entry(**fields)
    by_orm.save()
    by_inserts = Inserts(AuditLog).insert(audit_entry(**fields))

    assert _columns(by_inserts) == _columns(by_orm)
    assert by_inserts.created_at is not None


def test_a_saved_row_is_not_inserted_again(org_a):
    with pytest.raises(ValueError, match="is not a new row"):
        Inserts(Organization).insert(org_a)


@pytest.mark.django_db(transaction=True)
def test_insert_with_links_the_second_row_to_the_first():
    org = Organization(name="Linked", description="")
    entry = audit_entry(action=AuditAction.ORG_CREATE, resource_type="organization", detail="linked")

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        Inserts(Organization).insert_with(org, Inserts(AuditLog), entry, "resource_id")

    statements = [q["sql"] for q in queries.captured_queries if "INSERT" in q["sql"]]
    assert len(statements) == (1 if connection.vendor == "postgresql" else 2)
    assert entry.resource_id == org.pk and entry.pk is not None
    assert AuditLog.objects.get(pk=entry.pk).resource_id == Organization.objects.get(name="Linked").pk


def test_insert_with_refuses_a_link_already_set(org_a):
    entry = audit_entry(action=AuditAction.ORG_CREATE, resource_id=org_a.pk)
    with pytest.raises(ValueError, match="resource_id is set by insert_with"):
        Inserts(Organization).insert_with(Organization(name="Again"), Inserts(AuditLog), entry, "resource_id")

    assert not Organization.objects.filter(name="Again").exists()


@pytest.mark.parametrize("holds", [True, False])
def test_insert_with_writes_both_rows_or_neither_as_its_condition_says(holds, org_a):
    org = Organization(name=f"Conditional {holds}", description="")
    entry = audit_entry(action=AuditAction.ORG_CREATE, resource_type="organization", detail=f"conditional {holds}")
    where = ("EXISTS (SELECT 1 FROM orgs_organization o WHERE o.id = %s AND o.name = %s)", [org_a.pk, org_a.name])
    if not holds:
        where = (where[0], [org_a.pk, "another name"])

    written = Inserts(Organization).insert_with(org, Inserts(AuditLog), entry, "resource_id", where=where)

    assert (written is org) is holds
    assert Organization.objects.filter(name=org.name).exists() is holds
    assert AuditLog.objects.filter(detail=f"conditional {holds}").exists() is holds
    assert (org.pk is not None, entry.pk is not None) == (holds, holds)


def test_insert_with_keeps_every_value_as_the_orm_writes_it(admin_a):
    """On PostgreSQL the values go through INSERT … SELECT with casts; they read back as the ORM's."""
    ca = create_ca(admin_a, "Casts CA")
    cert = issue_certificate(admin_a, ca, "casts.example.com", san_dns_names=("casts.example.com", "b.example.com"))
    stored = Certificate.objects.get(pk=cert.pk)

    for field in Certificate._meta.concrete_fields:
        assert getattr(stored, field.attname) == getattr(cert, field.attname), field.name
