"""Issuance writes the certificate and its audit entry together: one statement on PostgreSQL, one
transaction everywhere; when the entry cannot be written, no certificate is left behind."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from audit import services as audit_services
from audit.models import AuditLog
from certificates.models import Certificate
from certificates.tests.conftest import create_ca, issue_certificate


def test_the_certificate_and_its_entry_are_written_together(admin_a):
    ca = create_ca(admin_a, "Writes CA")

    with CaptureQueriesContext(connection) as queries:
        cert = issue_certificate(admin_a, ca, "writes.example.com")

    inserts = [q["sql"] for q in queries.captured_queries if "INSERT" in q["sql"]]
    if connection.vendor == "postgresql":
        assert len(inserts) == 1 and '"audit_auditlog"' in inserts[0] and '"certificates_certificate"' in inserts[0]
    else:
        assert len(inserts) == 2
    entry = AuditLog.objects.get(resource_type="certificate", resource_id=cert.pk)
    assert entry.action == "cert_create" and entry.user_id == admin_a.pk
    assert f"serial {cert.serial_number}" in entry.detail


def test_no_certificate_is_left_when_its_entry_fails(admin_a, monkeypatch):
    ca = create_ca(admin_a, "Failing Writes CA")
    real_entry = audit_services.audit_entry

    def oversized_entry(**fields):
        entry = real_entry(**fields)
        if connection.vendor == "postgresql":
            entry.action = "x" * 41  # the column holds 40: the database refuses the entry's INSERT
        else:
            monkeypatch.setattr(audit_services._entries, "values", _refuse)  # SQLite keeps any length
        return entry

    monkeypatch.setattr(audit_services, "audit_entry", oversized_entry)
    before = Certificate.objects.count()

    with pytest.raises(DatabaseError):
        issue_certificate(admin_a, ca, "half.example.com")

    assert Certificate.objects.count() == before
    assert not Certificate.objects.filter(common_name="half.example.com").exists()
    assert (
        not AuditLog.objects.filter(resource_type="certificate")
        .exclude(resource_id=None)
        .filter(detail__contains="half.example.com")
        .exists()
    )


def _refuse(obj):
    raise DatabaseError("audit store unavailable")
