"""Issuance writes the certificate and its audit entry in one transaction, and keeps them only if
the CA, locked by the certificate's foreign key, still issues; when the entry cannot be written,
no certificate is left behind."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from audit.models import AuditLog
from certificates import services
from certificates.models import Certificate, CertificateAuthority
from certificates.services import issuance
from certificates.tests.conftest import create_ca, issue_certificate
from pkiserver.errors import Invalid, NotFound


def test_the_certificate_and_its_entry_are_written_together(admin_a):
    ca = create_ca(admin_a, "Writes CA")

    with CaptureQueriesContext(connection) as queries:
        cert = issue_certificate(admin_a, ca, "writes.example.com")

    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 2
    assert '"certificates_certificate"' in inserts[0] and '"audit_auditlog"' in inserts[1]
    entry = AuditLog.objects.get(resource_type="certificate", resource_id=cert.pk)
    assert entry.action == "cert_create" and entry.user_id == admin_a.pk
    assert entry.organization_id == cert.organization_id
    assert f"serial {cert.serial_number}" in entry.detail


def test_no_certificate_is_left_when_its_entry_fails(admin_a, monkeypatch):
    ca = create_ca(admin_a, "Failing Writes CA")
    monkeypatch.setattr(AuditLog, "save", _refuse)
    before = Certificate.objects.count()

    with pytest.raises(DatabaseError):
        issue_certificate(admin_a, ca, "half.example.com")

    assert Certificate.objects.count() == before
    assert not Certificate.objects.filter(common_name="half.example.com").exists()


def _refuse(*args, **kwargs):
    raise DatabaseError("audit store unavailable")


# --- one transaction; the CA is checked after the row locks it ------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_ca_is_held_and_checked_before_the_certificate_is_written(admin_a):
    ca = create_ca(admin_a, "Order CA")

    with CaptureQueriesContext(connection) as queries:
        cert = issue_certificate(admin_a, ca, "order.example.com")

    sent = [q["sql"] for q in queries.captured_queries]
    begin = next(i for i, sql in enumerate(sent) if sql in ("BEGIN", "BEGIN IMMEDIATE") or sql.startswith("SAVEPOINT"))
    check = next(i for i, sql in enumerate(sent) if i > begin and '"certificates_certificateauthority"' in sql)
    insert = next(i for i, sql in enumerate(sent) if sql.startswith('INSERT INTO "certificates_certificate"'))
    entry = next(i for i, sql in enumerate(sent) if sql.startswith('INSERT INTO "audit_auditlog"'))
    assert begin < check < insert < entry, sent
    if connection.vendor == "postgresql":
        # Held until the commit: a delete, a revocation or a child CA's creation waits for it.
        assert sent[check].endswith("FOR KEY SHARE"), sent[check]
    assert Certificate.objects.get(pk=cert.pk).serial_number == cert.serial_number
    assert AuditLog.objects.filter(resource_type="certificate", resource_id=cert.pk).count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_ca_closed_while_the_certificate_waits_for_its_lock_gets_nothing(admin_a):
    # A child CA's creation holds its parent FOR UPDATE and closes it to leaves. An issuance that
    # wrote its row meanwhile must wait for that commit, then see the CA closed (not commit after it).
    ca = create_ca(admin_a, "Locked CA")
    locked, go = threading.Event(), threading.Event()

    def holder():
        try:
            with transaction.atomic():
                CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
                locked.set()
                go.wait(10)
                time.sleep(0.5)  # the issuance reaches its foreign-key check and waits
                CertificateAuthority.objects.filter(pk=ca.pk).update(allow_leaf_certs=False)
        finally:
            connections.close_all()

    thread = threading.Thread(target=holder)
    thread.start()
    assert locked.wait(10)
    go.set()
    try:
        with pytest.raises(Invalid, match="does not allow leaf certificates"):
            issue_certificate(admin_a, ca, "waiting.example.com")
    finally:
        thread.join(30)
    _nothing_written_under(ca)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_revoking_a_ca_waits_for_an_issuance_that_holds_it(admin_a):
    # An issuance holds its CA (FOR KEY SHARE) from its check to its commit; the CA's revocation
    # (FOR UPDATE) waits for that commit, so no certificate lands under a CA revoked meanwhile.
    root = create_ca(admin_a, "Hold Root")
    inter = create_ca(admin_a, "Hold Intermediate", parent=root)
    held, revoked_at = threading.Event(), []

    def revoke():
        try:
            assert held.wait(10)
            services.ca_revoke(actor=admin_a, ca=inter, reason="superseded")
            revoked_at.append(time.monotonic())
        finally:
            connections.close_all()

    thread = threading.Thread(target=revoke)
    thread.start()
    try:
        with transaction.atomic():
            assert services.common.hold_ca(inter.pk) == (True, False)
            held.set()
            time.sleep(0.5)  # the revocation is waiting for this transaction
            assert revoked_at == []
            committed = time.monotonic()
    finally:
        thread.join(30)
    assert revoked_at and revoked_at[0] >= committed
    assert CertificateAuthority.objects.get(pk=inter.pk).revoked_at is not None


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
    real, conditions = issuance._ca_still_issues, []

    def false_once(pk):
        conditions.append(pk)
        return False if len(conditions) == 1 else real(pk)

    monkeypatch.setattr(issuance, "_ca_still_issues", false_once)

    cert = issue_certificate(admin_a, ca, "flap.example.com")

    assert conditions == [ca.pk, ca.pk]  # the write refused once, the CA was read again, signed again
    assert list(Certificate.objects.filter(issuer=ca).values_list("pk", flat=True)) == [cert.pk]
    assert AuditLog.objects.filter(resource_type="certificate", resource_id=cert.pk).count() == 1
