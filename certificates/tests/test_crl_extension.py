"""A revocation waits as a pending entry; the next CRL read extends the stored CRL with it instead of
encoding every entry again (services.crl_publish)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit import services as audit_services
from certificates import services
from certificates import x509 as pki
from certificates.models import Certificate, PendingCrlEntry, RevocationList
from certificates.services import revocation

from .conftest import issue_certificate


@pytest.fixture
def signed(monkeypatch) -> list[str]:
    """Which way each CRL was made: 'built' from all rows or 'extended' from the stored one."""
    calls: list[str] = []
    for name, label in (("build_crl_der", "built"), ("extend_crl", "extended")):
        real = getattr(pki, name)

        def spy(*, _real: Any = real, _label: str = label, **kwargs: Any) -> Any:
            calls.append(_label)
            return _real(**kwargs)

        monkeypatch.setattr(pki, name, spy)
    return calls


def stored_crl(ca) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl(bytes(RevocationList.objects.get(ca=ca).der))


def read(ca) -> None:
    """What a CRL fetch does first: publish the pending revocations."""
    services.crl_current(ca=ca)


def revoke(actor, cert: Certificate, reason: str | None = "superseded") -> Certificate:
    return services.certificate_revoke(actor=actor, cert=cert, reason=reason)


def test_revocations_extend_the_crl_to_what_a_rebuild_holds(admin_a, root_a, signed):
    certs = [issue_certificate(admin_a, root_a, f"host{n}.example.com") for n in range(6)]
    revoke(admin_a, certs[0], "key_compromise")
    read(root_a)  # the first CRL of the CA is built
    for cert in certs[1:4]:
        revoke(admin_a, cert)
        read(root_a)

    crl = stored_crl(root_a)
    assert signed == ["built", "extended", "extended", "extended"]
    assert crl.is_signature_valid(pki.load_certificate_pem(root_a.certificate).public_key())
    assert {entry.serial_number for entry in crl} == {int(c.serial_number, 16) for c in certs[:4]}
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 4
    assert RevocationList.objects.get(ca=root_a).entries == 4
    first = crl.get_revoked_certificate_by_serial_number(int(certs[0].serial_number, 16))
    assert first.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
    revoked_at = Certificate.objects.get(pk=certs[3].pk).revoked_at.replace(microsecond=0)
    assert (
        crl.get_revoked_certificate_by_serial_number(int(certs[3].serial_number, 16)).revocation_date_utc == revoked_at
    )
    # The same entries a CRL built from the rows holds (the order may differ).
    assert {e.serial_number for e in crl} == {int(row[0], 16) for row in Certificate.objects.crl_rows(root_a.pk)}


def test_a_revocation_signs_nothing_and_waits_for_the_next_read(admin_a, root_a, signed):
    certs = [issue_certificate(admin_a, root_a, f"w{n}.example.com") for n in range(4)]
    revoke(admin_a, certs[0])
    read(root_a)
    signed.clear()

    for cert in certs[1:]:
        revoke(admin_a, cert)

    assert signed == []  # no CRL signed by the revocations themselves
    assert set(PendingCrlEntry.objects.filter(ca=root_a).values_list("certificate_id", flat=True)) == {
        c.pk for c in certs[1:]
    }
    assert RevocationList.objects.get(ca=root_a).number == 1
    read(root_a)
    read(root_a)
    assert signed == ["extended"]  # the three in one CRL, and the second read signs nothing
    assert not PendingCrlEntry.objects.exists()
    crl = stored_crl(root_a)
    assert {e.serial_number for e in crl} == {int(c.serial_number, 16) for c in certs}
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2


def test_a_revocation_committed_during_a_publication_stays_pending(admin_a, root_a, signed, monkeypatch):
    """The publication reads the pending entries, then the rows: a revocation in between is in
    neither the extended count nor the deleted entries, so it is signed in by the next read."""
    first, second, late = (issue_certificate(admin_a, root_a, f"late{n}.example.com") for n in range(3))
    revoke(admin_a, first)
    read(root_a)
    revoke(admin_a, second)
    real_header = revocation.crl_header

    def header_then_a_revocation(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(revocation, "crl_header", real_header)
        revoke(admin_a, late)  # after the pending entries were read
        return real_header(*args, **kwargs)

    monkeypatch.setattr(revocation, "crl_header", header_then_a_revocation)
    read(root_a)

    # The count no longer matched, so the CRL was built from the rows, the late one included ...
    assert signed == ["built", "built"]
    assert {e.serial_number for e in stored_crl(root_a)} == {int(c.serial_number, 16) for c in (first, second, late)}
    # ... and its entry stays pending: only what the publication read is deleted.
    assert list(PendingCrlEntry.objects.values_list("certificate_id", flat=True)) == [late.pk]
    read(root_a)
    assert {e.serial_number for e in stored_crl(root_a)} == {int(c.serial_number, 16) for c in (first, second, late)}
    assert not PendingCrlEntry.objects.exists()


def test_a_mass_revocation_is_built_from_the_rows(admin_a, root_a, signed, monkeypatch):
    monkeypatch.setattr(revocation, "_EXTEND_AT_MOST", 2)  # the batch size too
    certs = [issue_certificate(admin_a, root_a, f"mass{n}.example.com") for n in range(6)]
    revoke(admin_a, certs[0])
    read(root_a)
    for cert in certs[1:]:
        revoke(admin_a, cert)

    read(root_a)

    assert signed == ["built", "built"]
    assert len(stored_crl(root_a)) == 6 and RevocationList.objects.get(ca=root_a).entries == 6
    assert not PendingCrlEntry.objects.exists()  # deleted in batches of two


def test_a_stored_crl_that_misses_a_revocation_is_rebuilt_from_the_rows(admin_a, root_a, signed):
    first, second, third = (issue_certificate(admin_a, root_a, f"h{n}.example.com") for n in range(3))
    revoke(admin_a, first)
    read(root_a)
    # A revocation the stored CRL does not hold (as if written by something that skipped it).
    Certificate.objects.filter(pk=second.pk).update(revoked_at=Certificate.objects.get(pk=first.pk).revoked_at)

    revoke(admin_a, third)
    read(root_a)

    assert signed == ["built", "built"]
    assert {e.serial_number for e in stored_crl(root_a)} == {int(c.serial_number, 16) for c in (first, second, third)}
    assert RevocationList.objects.get(ca=root_a).entries == 3


@pytest.mark.django_db(transaction=True)
def test_a_crl_rolled_back_with_its_revocation_is_never_served(admin_a, root_a, public, monkeypatch):
    first, second, third = (issue_certificate(admin_a, root_a, f"r{n}.example.com") for n in range(3))
    revoke(admin_a, first)
    before = public.get(f"/crl/{root_a.slug}").content

    def failing(**kwargs: Any) -> None:
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(revocation, "audit_record", failing)
    with pytest.raises(RuntimeError):
        revoke(admin_a, second)
    monkeypatch.setattr(revocation, "audit_record", audit_services.audit_record)

    assert public.get(f"/crl/{root_a.slug}").content == before
    revoke(admin_a, third)
    served = x509.load_der_x509_crl(public.get(f"/crl/{root_a.slug}").content)
    assert {e.serial_number for e in served} == {int(c.serial_number, 16) for c in (first, third)}
    assert served.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2


def test_extending_reads_no_revoked_row_but_the_new_one(admin_a, root_a):
    certs = [issue_certificate(admin_a, root_a, f"q{n}.example.com") for n in range(5)]
    for cert in certs[:4]:
        revoke(admin_a, cert)
    read(root_a)
    revoke(admin_a, certs[4])

    with CaptureQueriesContext(connection) as queries:
        read(root_a)

    # CRL entries are read as (serial, epoch seconds, reason): only the revoked certificate's.
    crl_reads = [q["sql"] for q in queries.captured_queries if "EPOCH" in q["sql"] or "strftime('%s'" in q["sql"]]
    assert len(crl_reads) == 1 and "IN (" in crl_reads[0]


@pytest.mark.parametrize("microsecond", [0, 499_999, 999_500, 999_999])
def test_a_crl_row_keeps_the_whole_second_of_its_revocation(admin_a, root_a, microsecond):
    """The CRL lists a revocation in its stored second, as OCSP answers it: never rounded up (SQLite's
    date functions round to milliseconds; 42.9996 s would have been listed as 43)."""
    cert = issue_certificate(admin_a, root_a, "second.example.com")
    at = datetime(2026, 12, 2, 9, 42, 42, microsecond, tzinfo=UTC)
    Certificate.objects.filter(pk=cert.pk).update(revoked_at=at)

    rows = {serial: seconds for serial, seconds, _ in Certificate.objects.crl_rows(root_a.pk)}

    assert rows[cert.serial_number] == int(at.replace(microsecond=0).timestamp())
