"""Many clients revoking (and reading the CRL) at once: one revocation wins, the CRL loses no entry
(PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from django.db import connection, connections
from rest_framework.test import APIClient

from audit.models import AuditLog
from certificates.models import Certificate, PendingCrlEntry, RevocationList

THREADS = 20

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="thread races need PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


def _all_at_once(clients: list[APIClient], paths: list[str], body: dict) -> list[int]:
    barrier = threading.Barrier(len(clients))

    def post(index: int) -> int:
        try:
            barrier.wait(timeout=30)
            return clients[index].post(paths[index], body, format="json").status_code
        finally:
            connections.close_all()  # this thread's connections only

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        return list(pool.map(post, range(len(clients)), timeout=120))


def _crl(anon: APIClient, slug: str) -> x509.CertificateRevocationList:
    response = anon.get(f"/crl/{slug}")
    assert response.status_code == 200
    return x509.load_der_x509_crl(response.content)


def test_concurrent_revocations_of_one_certificate(client_for, admin_a, root_a, make_cert, anon):
    clients = [client_for(admin_a) for _ in range(THREADS)]
    certs = [make_cert(admin_a, root_a, f"race{i}.example.com") for i in range(3)]
    start = RevocationList.objects.filter(ca=root_a).values_list("number", flat=True).first() or 0

    for round_, cert in enumerate(certs, start=1):
        statuses = _all_at_once(clients, [f"/api/v1/certificates/{cert.pk}/revoke"] * THREADS, {"reason": "superseded"})

        assert sorted(statuses) == [200] + [409] * (THREADS - 1), statuses
        assert AuditLog.objects.filter(action="cert_revoke", resource_id=cert.pk).count() == 1
        assert Certificate.objects.get(pk=cert.pk).revoked_at is not None
        # One pending entry per winning revocation, never one per attempt; the read signs it in.
        assert list(PendingCrlEntry.objects.values_list("certificate_id", flat=True)) == [cert.pk]
        _crl(anon, root_a.slug)
        assert RevocationList.objects.get(ca=root_a).number == start + round_

    crl = _crl(anon, root_a.slug)
    serials = [entry.serial_number for entry in crl]
    assert sorted(serials) == sorted(int(c.serial_number, 16) for c in certs)
    assert len(serials) == len(set(serials))
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == start + 3
    for entry in crl:
        assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.superseded
    assert AuditLog.objects.filter(action="cert_revoke").count() == 3


def test_concurrent_revocations_of_different_certificates_keep_every_serial(
    client_for, admin_a, root_a, make_cert, anon
):
    count = 10
    certs = [make_cert(admin_a, root_a, f"many{i}.example.com") for i in range(count)]
    clients = [client_for(admin_a) for _ in range(count)]

    statuses = _all_at_once(
        clients, [f"/api/v1/certificates/{c.pk}/revoke" for c in certs], {"reason": "keyCompromise"}
    )

    assert statuses == [200] * count, statuses
    assert PendingCrlEntry.objects.filter(ca=root_a).count() == count
    crl = _crl(anon, root_a.slug)  # one CRL for all of them
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    assert sorted(e.serial_number for e in crl) == sorted(int(c.serial_number, 16) for c in certs)
    assert AuditLog.objects.filter(action="cert_revoke").count() == count


def test_crl_reads_during_revocations_lose_no_entry(client_for, admin_a, root_a, make_cert):
    """Revocations and CRL reads at once: every read is a whole CRL, numbers only grow, and once
    the revocations are done the next read lists every one of them."""
    count, readers = 12, 6
    certs = [make_cert(admin_a, root_a, f"mixed{i}.example.com") for i in range(count)]
    revokers = [client_for(admin_a) for _ in range(count)]
    anons = [APIClient() for _ in range(readers)]
    barrier = threading.Barrier(count + readers)
    numbers: list[list[int]] = [[] for _ in range(readers)]

    def revoke(index: int) -> int:
        try:
            barrier.wait(timeout=30)
            return revokers[index].post(f"/api/v1/certificates/{certs[index].pk}/revoke", {}, format="json").status_code
        finally:
            connections.close_all()

    def read(index: int) -> int:
        try:
            barrier.wait(timeout=30)
            for _ in range(4):
                crl = _crl(anons[index], root_a.slug)
                numbers[index].append(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
            return 200
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count + readers) as pool:
        done = [pool.submit(revoke, i) for i in range(count)] + [pool.submit(read, i) for i in range(readers)]
        statuses = [future.result(timeout=120) for future in done]

    assert statuses == [200] * (count + readers)
    for seen in numbers:
        assert seen == sorted(seen)  # a reader never sees an older CRL after a newer one
    crl = _crl(APIClient(), root_a.slug)
    assert sorted(e.serial_number for e in crl) == sorted(int(c.serial_number, 16) for c in certs)
    assert not PendingCrlEntry.objects.exists()
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number >= max(max(n) for n in numbers)
