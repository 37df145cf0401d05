"""Issuance writes the certificate and its audit entry together: one statement on PostgreSQL, one
transaction everywhere; when the entry cannot be written, no certificate is left behind."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from audit import services as audit_services
from audit.models import AuditLog
from certificates import services
from certificates.models import Certificate, CertificateAuthority
from certificates.tests.conftest import create_ca, issue_certificate
from pkiserver.errors import Invalid, NotFound


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


# --- no transaction of its own on PostgreSQL; the CA is checked by the write ---------------------


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_write_is_all_the_issuance_sends(admin_a):
    ca = create_ca(admin_a, "One Statement CA")

    with CaptureQueriesContext(connection) as queries:
        cert = issue_certificate(admin_a, ca, "one.example.com")

    sent = [q["sql"] for q in queries.captured_queries]
    if connection.vendor == "postgresql":
        # No BEGIN, no lock read, no COMMIT: one autocommitted statement, which locks the CA itself.
        assert len(sent) == 1, sent
        assert "FOR KEY SHARE" in sent[0] and sent[0].count("INSERT INTO") == 2
    else:
        assert [s.split()[0] for s in sent] == ["BEGIN", "INSERT", "INSERT", "COMMIT"], sent
    assert Certificate.objects.get(pk=cert.pk).serial_number == cert.serial_number
    assert AuditLog.objects.filter(resource_type="certificate", resource_id=cert.pk).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_taken_serial_outside_a_transaction_is_signed_again(admin_a, monkeypatch):
    ca = create_ca(admin_a, "Retry CA")
    taken = int(issue_certificate(admin_a, ca, "first.example.com").serial_number, 16)
    serials = iter([taken, taken + 1])
    monkeypatch.setattr(services.pki, "random_serial", lambda: next(serials))

    cert = issue_certificate(admin_a, ca, "second.example.com")

    assert int(cert.serial_number, 16) == taken + 1 and next(serials, None) is None
    assert Certificate.objects.filter(issuer=ca).count() == 2
    assert AuditLog.objects.filter(resource_type="certificate", action="cert_create").count() == 2


def _nothing_written_under(ca):
    assert not Certificate.objects.filter(issuer_id=ca.pk).exists()
    assert not AuditLog.objects.filter(resource_type="certificate", detail__endswith=f"from CA {ca.name}").exists()


@pytest.mark.parametrize(
    "where",
    ["in-transaction", pytest.param("autocommit", marks=pytest.mark.django_db(transaction=True))],
)
def test_a_ca_closed_to_leaves_after_it_was_read_gets_nothing(admin_a, where):
    assert connection.in_atomic_block is (where == "in-transaction")
    ca = create_ca(admin_a, "Closing CA")
    CertificateAuthority.objects.filter(pk=ca.pk).update(allow_leaf_certs=False)  # `ca` still says True

    with pytest.raises(Invalid, match="does not allow leaf certificates"):
        issue_certificate(admin_a, ca, "late.example.com")

    _nothing_written_under(ca)


def test_a_ca_deleted_after_it_was_read_gets_nothing(admin_a):
    ca = create_ca(admin_a, "Vanishing CA")
    CertificateAuthority.objects.filter(pk=ca.pk).delete()

    with pytest.raises(NotFound, match="no longer exists"):
        issue_certificate(admin_a, ca, "gone.example.com")

    _nothing_written_under(ca)


def test_a_ca_that_changed_and_changed_back_is_read_again_and_signs(admin_a, monkeypatch):
    ca = create_ca(admin_a, "Flapping CA")
    real, conditions = services._ca_still_issues, []

    def false_once(pk):
        conditions.append(pk)
        return ("1 = 0", []) if len(conditions) == 1 else real(pk)

    monkeypatch.setattr(services, "_ca_still_issues", false_once)

    cert = issue_certificate(admin_a, ca, "flap.example.com")

    assert conditions == [ca.pk, ca.pk]  # the write refused once, the CA was read again, signed again
    assert list(Certificate.objects.filter(issuer=ca).values_list("pk", flat=True)) == [cert.pk]
    assert AuditLog.objects.filter(resource_type="certificate", resource_id=cert.pk).count() == 1
