"""PostgreSQL stops under load: clients get 503 JSON, the server recovers alone, nothing is lost.

The database is a private cluster made for this test (see conftest.private_cluster), so stopping
it cannot disturb anyone else's tests on this machine. Checked against naive versions (scratch
copies): without pkiserver.middleware the public /crl and /ocsp routes answered 500; with
CONN_HEALTH_CHECKS off the first requests after the quiet restart answered 503.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from tests.reliability.conftest import (
    ON_POSTGRES,
    Answer,
    Database,
    Server,
    bootstrap_root,
    create_database,
    http,
    migrate,
)

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.postgres,
    pytest.mark.live,
    pytest.mark.skipif(not ON_POSTGRES, reason="the outage is staged on a private PostgreSQL cluster"),
]

CLIENTS = 6
VICTIMS = 30  # certificates revoked one by one while the database comes and goes
EARLY_VICTIMS = 10  # offered before the outage; the others just before the stop, so it cuts revocations off
BEFORE, OUTAGE, AFTER = 1.0, 2.5, 1.5  # seconds of load in each phase, at least
PHASE_DEADLINE = 60.0  # on a starved machine a phase lasts until the load got answers, at most this long
QUIET_REQUESTS = 30  # sequential requests after a restart without load: reaches each of the 3 workers
FAST_KEY = {"key_algorithm": "ecdsa", "key_size": 256}
ROUTES = ("issue", "revoke", "list", "me", "crl", "ocsp", "readyz", "healthz")
DATABASE_ROUTES = {"issue", "revoke", "list", "me", "crl", "ocsp"}  # answer 503 while it is down


@dataclass
class Record:
    kind: str
    started: float
    ended: float
    status: int  # 0: no HTTP answer at all (connection refused or reset, timeout)
    content_type: str = ""
    body: bytes = b""
    error: str = ""
    target: int | None = None

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Timeline:
    stop_begin: float = float("inf")
    stop_end: float = float("inf")
    start_begin: float = float("inf")
    start_end: float = float("inf")


def _ocsp_request(cert_pem: str, issuer_pem: str) -> bytes:
    cert, issuer = (
        x509.load_pem_x509_certificate(cert_pem.encode()),
        x509.load_pem_x509_certificate(issuer_pem.encode()),
    )
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
    return request.public_bytes(serialization.Encoding.DER)


@pytest.fixture
def outage_server(private_cluster, server_env, launch):
    database = Database(create_database(private_cluster.url, "pkiserver_outage"))
    migrate(server_env, database.url)
    server = launch(database, workers=3)
    return server, database, bootstrap_root(server)


def test_database_outage_under_load(outage_server, private_cluster):
    server, database, token = outage_server
    ca = http("POST", f"{server.url}/api/v1/cas/", token=token,
              body={"name": "Outage Root", "subject_dn": "CN=Outage Root,O=Rel", **FAST_KEY}).json()  # fmt: skip
    certificates = [_issue(server, token, ca["id"], f"victim{n}").json() for n in range(VICTIMS)]
    victims: queue.Queue[dict] = queue.Queue()
    for victim in certificates[:EARLY_VICTIMS]:
        victims.put(victim)
    # Revoked by the test thread itself, once during the outage (503) and once after it (200): the load
    # threads may have run out of victims by then, and then they ask /users/me instead.
    spare = _issue(server, token, ca["id"], "spare").json()
    assert http("GET", f"{server.url}/crl/{ca['slug']}").status == 200  # CRL #1, empty: published before the load
    ocsp_body = _ocsp_request(certificates[0]["certificate"], ca["certificate"])

    def operations(client: int) -> list[tuple[str, Callable[[], tuple[Answer, int | None]]]]:
        def revoke() -> tuple[Answer, int | None]:
            try:
                victim = victims.get_nowait()
            except queue.Empty:
                return http("GET", f"{server.url}/api/v1/users/me", token=token), None
            answer = _revoke(server, token, victim["id"])
            if answer.status == 503:
                victims.put(victim)  # unknown whether it committed: try again later (409 if it did)
            return answer, victim["id"]

        return [
            ("issue", lambda: (_issue(server, token, ca["id"], f"load{client}"), None)),
            ("revoke", revoke),
            ("list", lambda: (http("GET", f"{server.url}/api/v1/certificates/?ca_id={ca['id']}&limit=5", token=token), None)),
            ("me", lambda: (http("GET", f"{server.url}/api/v1/users/me", token=token), None)),
            ("crl", lambda: (http("GET", f"{server.url}/crl/{ca['slug']}"), None)),
            ("ocsp", lambda: (http("POST", f"{server.url}/ocsp/{ca['slug']}", body=ocsp_body,
                                   content_type="application/ocsp-request"), None)),
            ("readyz", lambda: (http("GET", f"{server.url}/readyz"), None)),
            ("healthz", lambda: (http("GET", f"{server.url}/healthz"), None)),
        ]  # fmt: skip

    records: list[Record] = []
    stop = threading.Event()

    def ask(kind: str, call: Callable[[], tuple[Answer, int | None]]) -> Record:
        started = time.monotonic()
        try:
            answer, target = call()
        except OSError as exc:  # no HTTP answer: a failure of its own kind
            return Record(kind, started, time.monotonic(), 0, error=repr(exc))
        if kind == "revoke" and target is None:  # no victim left: it asked /users/me instead
            kind = "me"
        return Record(kind, started, time.monotonic(), answer.status, answer.content_type, answer.body, target=target)

    def client(index: int) -> None:
        ops = operations(index)
        n = index
        while not stop.is_set():
            records.append(ask(*ops[n % len(ops)]))
            n += 1

    probes = dict(operations(CLIENTS))
    probes["revoke"] = lambda: (_revoke(server, token, spare["id"]), spare["id"])

    def ask_every_route() -> None:
        """Each route once, one after the other from this thread: which routes the load threads
        reached in a phase depends on scheduling, this does not."""
        for kind in ROUTES:
            records.append(ask(kind, probes[kind]))

    def load_for(seconds: float, since: float) -> None:
        """At least `seconds` of load, and on a starved machine until at least CLIENTS requests sent
        since `since` were answered (bounded: the checks below tell what went wrong)."""
        time.sleep(seconds)
        deadline = since + PHASE_DEADLINE
        while sum(r.started > since for r in list(records)) < CLIENTS and time.monotonic() < deadline:
            time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    timeline = Timeline()
    load_start = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        load_for(BEFORE, load_start)
        for victim in certificates[EARLY_VICTIMS:]:
            victims.put(victim)  # some revocations are under way when the database goes
        timeline.stop_begin = time.monotonic()
        private_cluster.stop()
        timeline.stop_end = time.monotonic()
        load_for(OUTAGE, timeline.stop_end)
        ask_every_route()
        timeline.start_begin = time.monotonic()
        private_cluster.start()
        timeline.start_end = time.monotonic()
        load_for(AFTER, timeline.start_end)
        ask_every_route()
    finally:
        if timeline.stop_end != float("inf") and timeline.start_end == float("inf"):
            private_cluster.start()  # never leave the cluster down for the teardown
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    figures = _check_answers(records, timeline)
    _check_nothing_lost(server, database, ca, records)

    # A quiet restart: idle workers keep connections (CONN_MAX_AGE) that died with it, and
    # CONN_HEALTH_CHECKS replaces them before the first query: not even the first request fails.
    private_cluster.stop()
    private_cluster.start()
    quiet = [http("GET", f"{server.url}/api/v1/users/me", token=token).status for _ in range(QUIET_REQUESTS)]
    assert quiet == [200] * QUIET_REQUESTS
    log = server.log_text()
    assert "Traceback" not in log, log[-4000:]
    print(f"\noutage figures: {figures}")


def _revoke(server: Server, token: str, cert_id: int) -> Answer:
    return http(
        "POST", f"{server.url}/api/v1/certificates/{cert_id}/revoke", token=token, body={"reason": "superseded"}
    )


def _issue(server: Server, token: str, ca_id: int, name: str) -> Answer:
    body = {"common_name": f"{name}.outage.example.com", "subject_dn": f"CN={name}.outage.example.com",
            "certificate_type": "server", **FAST_KEY}  # fmt: skip
    return http("POST", f"{server.url}/api/v1/certificates/?ca_id={ca_id}", token=token, body=body)


SUCCESS = {"issue": {201}, "revoke": {200, 409}, "list": {200}, "me": {200}, "crl": {200}, "ocsp": {200},
           "readyz": {200}, "healthz": {200}}  # fmt: skip


def _check_answers(records: list[Record], timeline: Timeline) -> dict:
    assert not [r for r in records if r.status == 0], "requests without an HTTP answer"
    outage, after, tally = [], [], Counter()
    for r in records:
        # Whatever the phase: a success, or a 503 in JSON with a `detail` (readyz: its checks).
        assert r.status in SUCCESS[r.kind] | {503}, (r.kind, r.status, r.body[:500])
        if r.status == 503:
            assert r.content_type == "application/json", (r.kind, r.content_type, r.body[:500])
            body = r.json()
            if r.kind == "readyz":
                assert body["status"] == "not ready" and body["database"].startswith("unavailable"), body
            else:
                assert body["detail"] and body["code"] == "service_unavailable", body
            assert b"Traceback" not in r.body and b"<html" not in r.body.lower()
        if r.ended < timeline.stop_begin:
            assert r.status in SUCCESS[r.kind], ("before the outage", r)
        elif r.started > timeline.stop_end and r.ended < timeline.start_begin:
            outage.append(r)
            expected = 200 if r.kind == "healthz" else 503  # liveness holds; everything else says so
            assert r.status == expected, ("during the outage", r.kind, r.status, r.body[:300])
        elif r.started > timeline.start_end:
            after.append(r)
        if (
            timeline.stop_begin <= r.started <= timeline.start_end
            or timeline.stop_begin <= r.ended <= timeline.start_end
        ):
            tally[f"{r.kind} {r.status}"] += 1
    assert {r.kind for r in outage} >= set(ROUTES), "every route was tried in the outage"

    # It recovers by itself: every request sent once the database is back succeeds.
    failed_after = [(r.kind, r.status, round(r.started - timeline.start_end, 3)) for r in after if r.status == 503]
    assert not failed_after, failed_after
    assert {r.kind for r in after} >= set(ROUTES), "every route was tried after the restart"
    first_success = min(r.ended for r in after if r.kind in DATABASE_ROUTES)
    return {
        "requests": len(records),
        "during stop/outage/start": dict(sorted(tally.items())),
        "outage seconds": round(timeline.start_begin - timeline.stop_begin, 2),
        "recovered after (s)": round(first_success - timeline.start_end, 3),
        "requests after recovery": len(after),
    }


def _check_nothing_lost(server: Server, database: Database, ca: dict, records: list[Record]) -> None:
    assert http("GET", f"{server.url}/readyz").status == 200
    certs = {pk: (serial, revoked) for pk, serial, revoked in database.sql(
        "SELECT id, serial_number, revoked_at IS NOT NULL FROM certificates_certificate WHERE issuer_id = %s",
        (ca["id"],),
    )}  # fmt: skip
    audited = Counter(pk for (pk,) in database.sql(
        "SELECT resource_id FROM audit_auditlog WHERE action = 'cert_create' AND resource_type = 'certificate'"
    ))  # fmt: skip
    revocations = Counter(pk for (pk,) in database.sql(
        "SELECT resource_id FROM audit_auditlog WHERE action = 'cert_revoke' AND resource_type = 'certificate'"
    ))  # fmt: skip
    # Every issued certificate has its audit entry, and no entry names a certificate that is not there.
    assert audited == Counter(certs.keys())
    revoked = {pk for pk, (_, is_revoked) in certs.items() if is_revoked}
    assert revocations == Counter(revoked)
    # Every answered success is in the database.
    assert {json.loads(r.body)["id"] for r in records if r.kind == "issue" and r.status == 201} <= certs.keys()
    assert {r.target for r in records if r.kind == "revoke" and r.status in (200, 409)} <= revoked
    # Every revoked certificate is in its CA's CRL. Revocations share CRLs (each read after some
    # signs them in), so there are at most as many new CRLs as revocations, and at least one.
    answer = http("GET", f"{server.url}/crl/{ca['slug']}")
    crl = x509.load_der_x509_crl(answer.body)
    assert {entry.serial_number for entry in crl} == {int(certs[pk][0], 16) for pk in revoked}
    assert 1 < crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number <= 1 + len(revoked)
