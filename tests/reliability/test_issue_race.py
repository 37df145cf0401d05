"""Issuance under one CA racing with revocations, the CA's deletion and a child CA's creation.

Every request comes from its own thread, with its own database connection and a real bearer token.
After each round: no orphan rows, every certificate audited, unique serials, CRL numbers that name
one CRL each and only grow, no lost revocation, and no 5xx for the losers.

How we checked that this fails a naive version (in a scratch copy of the tree, never this one):
- `certificate_revoke` without `select_for_update` on the CA: two revocations built their CRLs
  from one snapshot; the final CRL number fell short of the revocations (2 for 6) in round one;
- `_issue` without it: issuances racing with the delete failed at commit (500), and in the
  "child" scenario a leaf was issued after the child's creation had closed the CA to leaves;
- `ca_create` without it on the parent: the child creation racing with the delete answered 500;
- `_lock_ca_names` with a plain FOR UPDATE on the organization (before the fix): an issuance
  (holding the CA, inserting a row that references the organization) and a child creation
  (holding the organization, waiting for the CA) deadlocked: 503s in the "child" scenarios;
- `certificate_revoke` and `ca_delete` before the fix (`.get()` on a CA deleted meanwhile): a
  revocation or a second delete racing with the delete answered 500.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from django.db import connection, connections
from rest_framework.test import APIClient

from audit.models import AuditAction, AuditLog
from certificates.models import Certificate, CertificateAuthority, PendingCrlEntry, RevocationList
from certificates.tests.conftest import create_ca, issue_certificate

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="thread races need PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

ISSUERS = 10  # threads, each issuing ISSUES_EACH certificates back to back
ISSUES_EACH = 2
REVOKERS = 6  # threads, each revoking one certificate issued before the round
FETCHERS = 2  # relying parties, each fetching the CRL and an OCSP answer FETCHES times
FETCHES = 4
ROUNDS = 4  # per scenario
FAST_KEY = {"key_algorithm": "ecdsa", "key_size": 256}


SUCCESS_TYPES = {
    ("delete", 204): "",
    ("crl", 200): "application/pkix-crl",
    ("ocsp", 200): "application/ocsp-response",
}


@dataclass
class Outcome:
    kind: str  # issue | revoke | delete | child | crl | ocsp
    status: int
    content_type: str
    data: Any
    target: int | None = None


@dataclass
class Ledger:
    """What the test made, across rounds: certificate id → (issuer id, serial)."""

    certs: dict[int, tuple[int, str]] = field(default_factory=dict)
    crl_samples: list[tuple[int, int, frozenset[int]]] = field(default_factory=list)  # (ca, number, serials)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _answer(kind: str, response: Any, target: int | None = None) -> Outcome:
    content_type = response.get("Content-Type") or ""
    data = response.json() if content_type == "application/json" else None
    return Outcome(kind, response.status_code, content_type, data, target)


def _crl_content(der: bytes) -> tuple[int, frozenset[int]]:
    crl = x509.load_der_x509_crl(der)
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number, frozenset(
        entry.serial_number for entry in crl
    )


def _ocsp_request(cert: Certificate, issuer: CertificateAuthority) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        x509.load_pem_x509_certificate(cert.certificate.encode()),
        x509.load_pem_x509_certificate(issuer.certificate.encode()),
        hashes.SHA1(),
    )
    return builder.build().public_bytes(serialization.Encoding.DER)


def _race(jobs: list[Callable[[], list[Outcome]]]) -> list[Outcome]:
    """Run every job in its own thread, released together; each thread has its own connection."""
    barrier = threading.Barrier(len(jobs))
    results: list[list[Outcome] | BaseException | None] = [None] * len(jobs)

    def run(index: int) -> None:
        try:
            connection.ensure_connection()  # connect before the barrier so the requests collide
            barrier.wait(timeout=30)
            results[index] = jobs[index]()
        except BaseException as exc:  # reported below, in the test's thread
            results[index] = exc
        finally:
            connections.close_all()  # this thread's connections only

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    errors = [result for result in results if not isinstance(result, list)]
    assert not errors, errors
    return [outcome for result in results for outcome in result]  # type: ignore[union-attr]


def _round_jobs(
    scenario: dict[str, int], root: CertificateAuthority, victims: list[Certificate], clients: dict[str, list[APIClient]],
    ledger: Ledger, round_number: int,
) -> list[Callable[[], list[Outcome]]]:  # fmt: skip
    def issuer(index: int) -> Callable[[], list[Outcome]]:
        def job() -> list[Outcome]:
            out = []
            for n in range(ISSUES_EACH):
                name = f"r{round_number}-i{index}-{n}.race.example.com"
                body = {
                    "common_name": name,
                    "subject_dn": f"CN={name},O=Race",
                    "certificate_type": "server",
                    **FAST_KEY,
                }
                out.append(
                    _answer("issue", clients["issue"][index].post(f"/api/v1/certificates/?ca_id={root.pk}", body))
                )
            return out

        return job

    def revoker(index: int) -> Callable[[], list[Outcome]]:
        def job() -> list[Outcome]:
            cert = victims[index]
            response = clients["revoke"][index].post(f"/api/v1/certificates/{cert.pk}/revoke", {"reason": "superseded"})
            outcome = _answer("revoke", response, cert.pk)
            if outcome.status == 200:
                # Read after the revocation committed: any CRL served from now on must list it.
                response = APIClient(raise_request_exception=False).get(f"/crl/{root.slug}")
                if response.status_code == 200:  # else 404: the CA was deleted in between
                    sample = _crl_content(response.content)
                    with ledger.lock:
                        ledger.crl_samples.append((root.pk, *sample))
                    assert int(cert.serial_number, 16) in sample[1], (cert.pk, sample)
                else:
                    assert response.status_code == 404, response.status_code
            return [outcome]

        return job

    def fetcher(index: int) -> Callable[[], list[Outcome]]:
        def job() -> list[Outcome]:
            relying_party = APIClient(raise_request_exception=False)
            out = []
            for n in range(FETCHES):
                response = relying_party.get(f"/crl/{root.slug}")
                out.append(_answer("crl", response))
                if response.status_code == 200:
                    with ledger.lock:
                        ledger.crl_samples.append((root.pk, *_crl_content(response.content)))
                victim = victims[(index + n) % len(victims)]
                response = relying_party.post(
                    f"/ocsp/{root.slug}", _ocsp_request(victim, root), content_type="application/ocsp-request"
                )
                out.append(_answer("ocsp", response))
                if response.status_code == 200:
                    answer = ocsp.load_der_ocsp_response(response.content)
                    assert answer.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
                    assert answer.serial_number == int(victim.serial_number, 16)
            return out

        return job

    def deleter(index: int) -> Callable[[], list[Outcome]]:
        def job() -> list[Outcome]:
            # Land somewhere among the issuances; in odd rounds usually after the child's creation.
            time.sleep(random.uniform(0.04, 0.1) if round_number % 2 else random.uniform(0, 0.05))
            return [_answer("delete", clients["delete"][index].delete(f"/api/v1/cas/{root.pk}"))]

        return job

    def child_maker() -> list[Outcome]:
        time.sleep(random.uniform(0, 0.03))
        body = {
            "name": f"Child {round_number}",
            "subject_dn": f"CN=Child {round_number},O=Race",
            "parent_ca_id": root.pk,
        }
        return [_answer("child", clients["child"][0].post("/api/v1/cas/", {**body, **FAST_KEY}))]

    jobs = [issuer(i) for i in range(ISSUERS)] + [revoker(i) for i in range(REVOKERS)]
    jobs += [fetcher(i) for i in range(FETCHERS)]
    jobs += [deleter(i) for i in range(scenario.get("delete", 0))]
    jobs += [child_maker] * scenario.get("child", 0)
    return jobs


def _audit_ids(action: str, resource_type: str, resource_id: int) -> list[int]:
    return list(
        AuditLog.objects.filter(action=action, resource_type=resource_type, resource_id=resource_id)
        .order_by("id")
        .values_list("id", flat=True)
    )


def _empty_first(ledger: Ledger, ca_id: int) -> int:
    """1 when a fetch published an empty CRL #1 before the first revocation, else 0."""
    return int(any(ca == ca_id and not serials for ca, _, serials in ledger.crl_samples))


def _check_round(
    scenario: dict[str, int], root: CertificateAuthority, victims: list[Certificate], outcomes: list[Outcome],
    anon: APIClient, ledger: Ledger,
) -> dict[str, Any]:  # fmt: skip
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        # Losers get a clean JSON refusal; nobody gets a 5xx or an HTML page.
        assert outcome.status < 500, outcome
        assert outcome.content_type == SUCCESS_TYPES.get((outcome.kind, outcome.status), "application/json"), outcome
        if outcome.status >= 400:
            assert isinstance(outcome.data, dict) and outcome.data.get("detail"), outcome
        by_kind[outcome.kind].append(outcome)

    deleted = any(o.status == 204 for o in by_kind["delete"])
    assert sum(o.status == 204 for o in by_kind["delete"]) <= 1
    child = next((o.data for o in by_kind["child"] if o.status == 201), None)
    if "delete" in scenario and "child" in scenario:
        assert deleted != (child is not None), "exactly one of the delete and the child creation wins"
    allowed = {
        "issue": {201} | ({404} if deleted else set()) | ({400} if child else set()),
        "revoke": {200} | ({404} if deleted else set()),
        "delete": {204, 409} | ({404} if deleted else set()),  # 404: another delete won
        "child": {201, 400},
        "crl": {200} | ({404} if deleted else set()),
        "ocsp": {200} | ({404} if deleted else set()),
    }
    for kind, answers in by_kind.items():
        assert {o.status for o in answers} <= allowed[kind], (kind, [(o.status, o.data) for o in answers])
    for o in by_kind["issue"]:
        if o.status == 400:
            assert "allow_leaf_certs" in o.data["detail"], o.data
    for o in by_kind["delete"]:
        if o.status == 409:
            assert o.data["code"] == "has_children" and child is not None, o.data
    for o in by_kind["child"]:
        if o.status == 400:
            assert deleted and o.data.get("errors", {}).keys() == {"parent_ca_id"}, o.data

    issued = {o.data["id"]: o.data for o in by_kind["issue"] if o.status == 201}
    revoked = {o.target for o in by_kind["revoke"] if o.status == 200}
    assert all(cert["issuer_id"] == root.pk for cert in issued.values())
    delete_entries = _audit_ids(AuditAction.CA_DELETE, "ca", root.pk)

    if deleted:
        assert not CertificateAuthority.objects.filter(pk=root.pk).exists()
        assert not Certificate.objects.filter(issuer_id=root.pk).exists()
        assert not RevocationList.objects.filter(ca_id=root.pk).exists()
        assert len(delete_entries) == 1
        # Everything done under the CA was committed before the delete took the CA's lock.
        for cert_id in [*issued, *(v.pk for v in victims)]:
            assert max(_audit_ids(AuditAction.CERT_CREATE, "certificate", cert_id)) < delete_entries[0], cert_id
        for cert_id in revoked:
            assert max(_audit_ids(AuditAction.CERT_REVOKE, "certificate", cert_id)) < delete_entries[0], cert_id
    else:
        assert delete_entries == []
        mine = Certificate.objects.filter(issuer_id=root.pk)
        assert set(issued) <= set(mine.values_list("pk", flat=True))
        assert set(mine.filter(revoked_at__isnull=False).values_list("pk", flat=True)) == revoked
        # Revocations share CRLs: at most one new CRL per revocation (plus an empty first one
        # when a relying party's fetch came before any revocation), and none left pending.
        response = anon.get(f"/crl/{root.slug}")
        stored = RevocationList.objects.get(ca_id=root.pk)
        assert 0 < stored.number <= len(revoked) + _empty_first(ledger, root.pk)
        assert not PendingCrlEntry.objects.filter(ca_id=root.pk).exists()
        assert response.status_code == 200
        crl = x509.load_der_x509_crl(response.content)
        assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == stored.number
        assert crl.is_signature_valid(x509.load_pem_x509_certificate(root.certificate.encode()).public_key())
        expected = {int(s, 16) for s in mine.filter(revoked_at__isnull=False).values_list("serial_number", flat=True)}
        assert {entry.serial_number for entry in crl} == expected

    if child is not None:
        made = CertificateAuthority.objects.get(pk=child["id"])
        assert made.parent_id == root.pk
        parent = CertificateAuthority.objects.get(pk=root.pk)
        assert parent.allow_leaf_certs is False
        x509.load_pem_x509_certificate(made.certificate.encode()).verify_directly_issued_by(
            x509.load_pem_x509_certificate(parent.certificate.encode())
        )
        # Once the child committed (and the parent stopped allowing leaves) no leaf was issued.
        child_created = _audit_ids(AuditAction.CA_CREATE, "ca", made.pk)[0]
        for cert_id in issued:
            assert _audit_ids(AuditAction.CERT_CREATE, "certificate", cert_id)[0] < child_created, cert_id

    return {"issued": issued, "revoked": revoked, "deleted": deleted, "child": child}


def _check_no_orphans(ledger: Ledger) -> None:
    """Database-wide invariants, after every round."""
    ca_ids = set(CertificateAuthority.objects.values_list("pk", flat=True))
    assert set(CertificateAuthority.objects.exclude(parent=None).values_list("parent_id", flat=True)) <= ca_ids
    rows = list(Certificate.objects.values_list("pk", "issuer_id", "serial_number"))
    assert {issuer for _, issuer, _ in rows} <= ca_ids
    assert set(RevocationList.objects.values_list("ca_id", flat=True)) <= ca_ids

    # Serials: unique across everything ever issued in this test, deleted or not.
    serials = [serial for _, serial in ledger.certs.values()]
    assert len(serials) == len(set(serials))
    assert {pk: (issuer, serial) for pk, issuer, serial in rows} == {
        pk: made for pk, made in ledger.certs.items() if pk in {row[0] for row in rows}
    }

    created = Counter(
        AuditLog.objects.filter(action=AuditAction.CERT_CREATE, resource_type="certificate").values_list(
            "resource_id", flat=True
        )
    )
    existing = {pk for pk, _, _ in rows}
    assert all(created[pk] == 1 for pk in existing), "a certificate without exactly one cert_create entry"
    deleted_cas = set(
        AuditLog.objects.filter(action=AuditAction.CA_DELETE, resource_type="ca").values_list("resource_id", flat=True)
    )
    for cert_id, count in created.items():
        assert count == 1, cert_id
        if cert_id not in existing:  # only a certificate deleted with its CA may be missing
            assert cert_id in ledger.certs, f"audit entry for a certificate nobody was answered about: {cert_id}"
            assert ledger.certs[cert_id][0] in deleted_cas, cert_id
            assert ledger.certs[cert_id][0] not in ca_ids, cert_id
    for ca_id in AuditLog.objects.filter(action=AuditAction.CA_CREATE).values_list("resource_id", flat=True):
        assert ca_id in ca_ids or ca_id in deleted_cas, ca_id


def _check_crl_samples(ledger: Ledger) -> None:
    """A CRL number names one CRL; a later number drops no revoked serial."""
    per_ca: dict[int, dict[int, set[frozenset[int]]]] = defaultdict(lambda: defaultdict(set))
    for ca_id, number, serials in ledger.crl_samples:
        per_ca[ca_id][number].add(serials)
    for ca_id, numbers in per_ca.items():
        previous: frozenset[int] | None = None
        for number in sorted(numbers):
            assert len(numbers[number]) == 1, f"CA {ca_id}: CRL number {number} was published with different contents"
            (serials,) = numbers[number]
            assert previous is None or previous <= serials, f"CA {ca_id}: CRL {number} dropped a revocation"
            previous = serials


# Besides the issuers, revokers and relying parties: how many deleters and child-CA makers.
SCENARIOS: dict[str, dict[str, int]] = {
    "revoke": {},
    "delete": {"delete": 2},
    "child": {"child": 1},
    "delete-and-child": {"delete": 1, "child": 1},
}


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_issuing_under_one_ca_while_it_changes(scenario, admin_a, user_a_capable, client_for, anon):
    ledger = Ledger()

    def client(user: Any) -> APIClient:
        made = client_for(user)
        made.raise_request_exception = False  # a server error is an answer to count, not a crash
        return made

    clients = {
        "issue": [client(admin_a if i % 2 else user_a_capable) for i in range(ISSUERS)],
        "revoke": [client(user_a_capable) for _ in range(REVOKERS)],
        "delete": [client(admin_a), client(user_a_capable)],  # can_delete_ca
        "child": [client(admin_a)],
    }
    tally: Counter[str] = Counter()
    for round_number in range(ROUNDS):
        root = create_ca(admin_a, f"Race Root {round_number}")
        victims = [issue_certificate(admin_a, root, f"victim{i}.race.example.com") for i in range(REVOKERS)]
        ledger.certs.update({v.pk: (root.pk, v.serial_number) for v in victims})

        outcomes = _race(_round_jobs(scenario, root, victims, clients, ledger, round_number))

        for o in outcomes:
            if o.kind == "issue" and o.status == 201:
                ledger.certs[o.data["id"]] = (o.data["issuer_id"], o.data["serial_number"])
        seen = _check_round(scenario, root, victims, outcomes, anon, ledger)
        _check_no_orphans(ledger)
        tally.update(f"{o.kind} {o.status}" for o in outcomes)
        tally.update(["CA deleted"] * seen["deleted"] + ["child made"] * (seen["child"] is not None))

    _check_crl_samples(ledger)
    print(f"\n{ROUNDS} rounds of {scenario or 'revocations'}: {dict(sorted(tally.items()))}")
