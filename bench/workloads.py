"""The workloads of issues 7 and 17, each next to the floor it is compared with, against one running server."""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from bench import floors
from bench.client import Client, Pause, Samples, concurrent, interleaved, timed
from bench.server import Server

API = "/api/v1"
SECTIONS = ("signing", "issuing", "ocsp", "me", "crl")
ROOT_PASSWORD = "Bench-Root-" + secrets.token_hex(8)
ADMIN_PASSWORD = "Bench-Admin-" + secrets.token_hex(8)


@dataclass(frozen=True)
class Plan:
    """How many samples and how large the datasets are."""

    csr_seq: int = 200
    csr_conc: int = 400
    # RSA key generation time varies a lot from key to key (p95 2-3x p50): with 40 samples the
    # median of the floor and of the server each moved by 10-15 % between runs, and with 120 their
    # ratio still moved from 1.06 to 1.34 between runs of one tree (the server's own part is 4 ms
    # of about 35), so 240.
    issue_seq: int = 240
    issue_conc: int = 40
    ocsp_seq: int = 300
    ocsp_conc: int = 600
    me_seconds: float = 8.0
    crl_sizes: tuple[int, int, int] = (100, 10_000, 100_000)
    crl_fetch: int = 60
    revokes: int = 60  # revocations at the small CRL, next to as many sign-CSRs
    rebuilds: int = 5
    rebuild_floors: int = 3
    list_small: int = 1_000
    list_reads: int = 100
    scale: int = 1_000_000

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            csr_seq=60,
            csr_conc=120,
            issue_seq=20,
            issue_conc=16,
            ocsp_seq=100,
            ocsp_conc=200,
            me_seconds=4.0,
            crl_fetch=30,
            revokes=30,
            rebuilds=3,
            rebuild_floors=2,
            list_reads=40,
        )

    @classmethod
    def tiny(cls) -> Plan:
        return cls(
            csr_seq=8,
            csr_conc=16,
            issue_seq=2,
            issue_conc=4,
            ocsp_seq=10,
            ocsp_conc=20,
            me_seconds=0.6,
            crl_sizes=(5, 50, 500),
            crl_fetch=5,
            revokes=4,
            rebuilds=1,
            rebuild_floors=1,
            list_small=60,
            list_reads=5,
            scale=2_000,
        )


@dataclass
class Row:
    backend: str
    workload: str
    n: int
    p50_ms: float | None = None
    p95_ms: float | None = None
    rps: float | None = None
    floor_ms: float | None = None
    floor_p95_ms: float | None = None
    ratio: float | None = None
    value: str = ""  # a figure that is not a time (memory, query counts)
    target: str = ""
    passed: bool | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


# "A 100,000-entry CRL build does not hold more than a few copies of it" (the issue's memory row).
CRL_BUILD_COPIES = 4


def _ms(seconds: float) -> float:
    return seconds * 1000


def warm(*ops: Callable[[int], Any], times: int = 8) -> None:
    """Untimed first calls: connections, caches and lazy imports are not what is measured."""
    for op in ops:
        for i in range(times):
            op(-1 - i)


@dataclass
class CAInfo:
    id: int
    slug: str
    material: floors.CA


@dataclass
class Bench:
    server: Server
    plan: Plan
    rows: list[Row] = field(default_factory=list)
    log: Any = print
    # Set by bench.compare, which runs two of these in turns: called after each timed round, and
    # how many rounds a concurrent run is cut into (so the two servers alternate within it too).
    pause: Pause = None
    concurrent_rounds: int = 1
    csr_key: Any = None  # the CSR's key; two benches compared share one

    def __post_init__(self) -> None:
        self.first_byte: dict[int, Samples] = {}
        host, port = self.server.host_port
        self.anon = Client(host, port)
        if self.csr_key is None:
            self.csr_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.csr_pem = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csr.bench.example")]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("csr.bench.example")]), critical=False)
            .sign(self.csr_key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
            .decode()
        )

    def run(self, sections: set[str], scale: bool = False) -> None:
        """Set up the dataset, then the workloads of `sections` (bench.workloads.SECTIONS), in order."""
        self.setup()
        if "signing" in sections:
            self.run_signing()
        if "issuing" in sections:
            self.run_issuing()
        if "ocsp" in sections:
            self.run_ocsp()
        if "me" in sections:
            self.run_me()
        if "crl" in sections:
            self.run_crls_and_lists()
            if scale and self.server.backend == "postgres":
                self.run_scale()
        self.memory_row()

    # --- rows ------------------------------------------------------------------------------

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        verdict = {True: "pass", False: "FAIL", None: "info"}[row.passed]
        self.log(
            f"  {row.workload:<38} n={row.n:<5} p50={row.p50_ms or 0:8.2f} ms p95={row.p95_ms or 0:8.2f} ms"
            + (f" rps={row.rps:7.1f}" if row.rps else "")
            + (f" floor={row.floor_ms:8.2f} ms" if row.floor_ms else "")
            + (f" ratio={row.ratio:.2f}" if row.ratio is not None else "")
            + (f" {row.value}" if row.value else "")
            + f" {row.target} {verdict} {row.note}"
        )
        return row

    def latency_row(
        self,
        workload: str,
        samples: Samples,
        floor: Samples | None = None,
        limit: float | None = None,
        target: str = "",
        passed: bool | None = None,
        note: str = "",
    ) -> Row:
        """A row whose ratio is p50 / floor p50, passing at `limit` or below."""
        ratio = samples.p50 / floor.p50 if floor is not None else None
        if limit is not None and ratio is not None:
            target, passed = f"p50 <= {limit:g}x floor", ratio <= limit
        return self.add(
            Row(
                backend=self.server.backend,
                workload=workload,
                n=samples.n,
                p50_ms=_ms(samples.p50),
                p95_ms=_ms(samples.p95),
                rps=samples.throughput if samples.clients > 1 else None,
                floor_ms=_ms(floor.p50) if floor else None,
                floor_p95_ms=_ms(floor.p95) if floor else None,
                ratio=ratio,
                target=target,
                passed=passed,
                note=note,
            )
        )

    def throughput_row(self, workload: str, samples: Samples, baseline: Samples, limit: float | None, what: str) -> Row:
        """A row whose ratio is its throughput over the baseline's, passing at `limit` or above
        (no limit: for information)."""
        ratio = samples.throughput / baseline.throughput
        target = f"rps >= {limit}x {what}" if limit is not None else f"for information: rps in units of {what}"
        return self.add(
            Row(
                backend=self.server.backend,
                workload=workload,
                n=samples.n,
                p50_ms=_ms(samples.p50),
                p95_ms=_ms(samples.p95),
                rps=samples.throughput,
                ratio=ratio,
                target=f"{target} ({baseline.throughput:.1f}/s)",
                passed=ratio >= limit if limit is not None else None,
            )
        )

    def concurrent(self, fn: Callable[[int], Any], clients: int, n: int, warmup: int = 0) -> Samples:
        return concurrent(fn, clients, n=n, warmup=warmup, rounds=self.concurrent_rounds, pause=self.pause)

    # --- set-up, through the API -----------------------------------------------------------

    def login(self, username: str, password: str) -> str:
        body = urllib.parse.urlencode({"username": username, "password": password}).encode()
        answer = self.anon.request(
            "POST", f"{API}/auth/token", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        if answer.status != 200:
            raise RuntimeError(f"login {username}: {answer.status} {answer.body[:300]!r}")
        return answer.json()["access_token"]

    def setup(self) -> None:
        self.anon.call(
            "POST",
            f"{API}/users/",
            {"username": "benchroot", "email": "root@bench.example", "password": ROOT_PASSWORD, "role": "superuser"},
            expect=201,
        )
        root = self.anon.with_token(self.login("benchroot", ROOT_PASSWORD))
        self.org_id = root.call("POST", f"{API}/organizations/", {"name": "Bench Org"}, expect=201).json()["id"]
        root.call(
            "POST",
            f"{API}/users/",
            {
                "username": "benchadmin",
                "email": "admin@bench.example",
                "password": ADMIN_PASSWORD,
                "role": "admin",
                "organization_id": self.org_id,
            },
            expect=201,
        )
        self.admin_token = self.login("benchadmin", ADMIN_PASSWORD)
        self.api = self.anon.with_token(self.admin_token)
        t0 = time.perf_counter()
        self.ca2048 = self.make_ca("Bench RSA-2048 CA", 2048)
        self.ca4096 = self.make_ca("Bench RSA-4096 CA", 4096)
        self.log(f"  set-up: users, organization and CAs in {time.perf_counter() - t0:.1f} s")

    def make_ca(self, name: str, key_size: int) -> CAInfo:
        body = self.api.call(
            "POST",
            f"{API}/cas/",
            {
                "name": name,
                "subject_dn": f"CN={name},O=Bench,C=US",
                "key_algorithm": "rsa",
                "key_size": key_size,
                "valid_days": 3650,
            },
            expect=201,
        ).json()
        return CAInfo(body["id"], body["slug"], floors.CA(body["certificate"], body["private_key"]))

    def sign_csr(self, ca: CAInfo, client: Client | None = None) -> dict[str, Any]:
        payload = {"csr": self.csr_pem, "ca_id": ca.id, "certificate_type": "server", "valid_days": 90}
        return (client or self.api).call("POST", f"{API}/certificates/sign-csr", payload, expect=201).json()

    def issue(self, ca: CAInfo, i: int) -> dict[str, Any]:
        name = f"issued-{i}.bench.example"
        payload = {
            "common_name": name,
            "subject_dn": f"CN={name}",
            "certificate_type": "server",
            "key_algorithm": "rsa",
            "key_size": 2048,
            "valid_days": 90,
        }
        return self.api.call("POST", f"{API}/certificates/?ca_id={ca.id}", payload, expect=201).json()

    def org_certificates(self) -> int:
        return int(self.api.call("GET", f"{API}/certificates/?limit=1").headers["X-Total-Count"])

    def bulk(self, ca: CAInfo, count: int, prefix: str, revoked_every: int = 0, expired_every: int = 0) -> None:
        if count <= 0:
            return
        out = self.server.helper(
            "bulk",
            "--ca",
            str(ca.id),
            "--count",
            str(count),
            "--prefix",
            prefix,
            "--revoked-every",
            str(revoked_every),
            "--expired-every",
            str(expired_every),
        )
        self.log(f"  bulk: {count} certificates under {ca.slug} in {json.loads(out)['seconds']} s")

    # --- workloads -------------------------------------------------------------------------

    def healthz(self, i: int) -> None:
        assert self.anon.request("GET", "/healthz").status == 200

    def me(self, i: int) -> None:
        answer = self.api.request("GET", f"{API}/users/me")
        assert answer.status == 200, answer.status

    def run_signing(self) -> None:
        plan, ca = self.plan, self.ca2048
        floor_op, sign = floors.leaf_sign(ca.material, self.csr_key.public_key()), lambda i: self.sign_csr(ca)
        warm(floor_op, sign, self.healthz, self.me)
        # Two requests that do no signing, timed in the same rounds: what any request and any
        # authenticated one cost on this server before a route's own work, in units of the floor.
        floor, seq, bare, authed = interleaved(
            [
                (floor_op, max(plan.csr_seq, 50)),
                (sign, plan.csr_seq),
                (self.healthz, plan.csr_seq),
                (self.me, plan.csr_seq),
            ],
            pause=self.pause,
        )
        self.latency_row("sign CSR (RSA-2048 CA), sequential", seq, floor, target="for information: p50 in leaf floors")
        for label, part in (("GET /healthz, sequential", bare), ("GET /users/me, sequential", authed)):
            self.latency_row(
                label,
                part,
                floor,
                target="for information, next to sign CSR",
                note=f"its p50 in leaf floors; sign CSR takes {_ms(seq.p50 - part.p50):.2f} ms more",
            )
        conc = self.concurrent(lambda i: self.sign_csr(ca), 4, n=plan.csr_conc, warmup=2)
        self.throughput_row("sign CSR, 4 concurrent clients", conc, seq, 1.5, "sequential")

    def run_issuing(self) -> None:
        plan = self.plan
        floor_op, issue = floors.keygen_and_sign(self.ca2048.material, 2048), lambda i: self.issue(self.ca2048, i)
        warm(floor_op, issue, times=2)
        floor, seq = interleaved([(floor_op, plan.issue_seq), (issue, plan.issue_seq)], pause=self.pause)
        self.latency_row("issue, server RSA-2048 key, sequential", seq, floor, 1.3)
        conc = self.concurrent(lambda i: self.issue(self.ca2048, 10_000 + i), 4, n=plan.issue_conc, warmup=1)
        self.throughput_row("issue, server RSA-2048 key, 4 concurrent", conc, seq, 1.5, "sequential")
        floor_op = floors.keygen_and_sign(self.ca4096.material, 2048)
        issue = lambda i: self.issue(self.ca4096, 20_000 + i)  # noqa: E731
        warm(floor_op, issue, times=2)
        floor, seq = interleaved([(floor_op, plan.issue_seq), (issue, plan.issue_seq)], pause=self.pause)
        self.latency_row("issue under an RSA-4096 CA, sequential", seq, floor, 1.3)

    def run_ocsp(self) -> None:
        plan, ca = self.plan, self.ca2048
        leaf = x509.load_pem_x509_certificate(self.sign_csr(ca)["certificate"].encode())
        request = ocsp.OCSPRequestBuilder().add_certificate(leaf, ca.material.cert, hashes.SHA1()).build()  # noqa: S303
        der = request.public_bytes(serialization.Encoding.DER)
        path, headers = f"/ocsp/{ca.slug}", {"Content-Type": "application/ocsp-request"}

        def post(i: int) -> None:
            answer = self.anon.request("POST", path, body=der, headers=headers)
            assert answer.status == 200, answer.status

        answer = ocsp.load_der_ocsp_response(self.anon.request("POST", path, body=der, headers=headers).body)
        assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD, answer.certificate_status
        floor_op = floors.ocsp_sign(ca.material, der)
        warm(floor_op, post)
        floor, seq = interleaved([(floor_op, max(plan.ocsp_seq, 100)), (post, plan.ocsp_seq)], pause=self.pause)
        self.latency_row("OCSP POST, sequential", seq, floor, 4)
        conc = self.concurrent(post, 4, n=plan.ocsp_conc, warmup=2)
        self.throughput_row("OCSP POST, 4 concurrent clients", conc, seq, 1.5, "sequential")

    def run_me(self) -> None:
        rounds = 2
        totals: dict[str, Samples] = {"me": Samples(clients=8), "healthz": Samples(clients=8)}
        for _ in range(rounds):  # interleaved, so a change in the machine's load hits both alike
            for name, fn in (("healthz", self.healthz), ("me", self.me)):
                part = concurrent(fn, 8, seconds=self.plan.me_seconds / (2 * rounds), warmup=2, pause=self.pause)
                totals[name].latencies += part.latencies
                totals[name].wall += part.wall
        self.latency_row("GET /healthz (no auth), 8 concurrent", totals["healthz"], target="baseline")
        self.throughput_row("GET /users/me (bearer), 8 concurrent", totals["me"], totals["healthz"], None, "/healthz")

    def list_reads(self, label: str, paths: dict[str, str], limit_ms: float = 20.0) -> dict[str, Any]:
        """p50 of each list path, and the queries each costs (counted by bench.probe)."""
        counts = json.loads(self.server.helper("probe", *paths.values(), extra_env={"BENCH_TOKEN": self.admin_token}))
        for name, path in paths.items():

            def read(i: int, path: str = path) -> None:
                answer = self.api.request("GET", path)
                assert answer.status == 200, (answer.status, answer.body[:200])

            samples = timed(read, self.plan.list_reads, warmup=3, pause=self.pause)
            probe = counts[path]
            # The issue sets this target on PostgreSQL; SQLite's figures are shown for information.
            judged = self.server.backend == "postgres"
            self.latency_row(
                f"list {name} @{label}",
                samples,
                target=f"p50 <= {limit_ms:g} ms" + ("" if judged else " (PostgreSQL target)"),
                passed=(_ms(samples.p50) <= limit_ms) if judged else None,
                note=f"{probe['queries']} queries, {probe['rows']} rows of {probe['total']}",
            )
        return counts

    def query_count_row(self, before: dict[str, Any], after: dict[str, Any], label: str) -> None:
        same = all(before[p]["queries"] == after[p]["queries"] for p in before if p in after)
        detail = ", ".join(f"{before[p]['queries']}->{after[p]['queries']}" for p in before if p in after)
        self.add(
            Row(
                backend=self.server.backend,
                workload=f"list query count {label}",
                n=len(before),
                value=detail,
                target="same count per path",
                passed=same,
            )
        )

    def list_paths(self, ca: CAInfo, serial: str, common_name: str) -> dict[str, str]:
        base = f"{API}/certificates/?limit=100"
        return {
            "page of 100": base,
            "by CA": f"{base}&ca_id={ca.id}",
            "status=valid": f"{base}&status=valid",
            "status=revoked": f"{base}&status=revoked",
            "status=expired": f"{base}&status=expired",
            "by serial": f"{base}&serial_number={serial}",
            "by CN": f"{base}&common_name={common_name}",
        }

    def run_crls_and_lists(self) -> None:
        plan = self.plan
        small, mid, large = plan.crl_sizes
        # The list dataset first, small: the organization holds `list_small` certificates.
        self.list_ca = self.make_ca("Bench List CA", 2048)
        self.sign_csr(self.list_ca)  # a real PEM for the bulk rows to copy
        # At least ten rows of its own, so that the CN probe below names one (the organization may
        # already hold `list_small` certificates from the sections before).
        self.bulk(self.list_ca, max(plan.list_small - self.org_certificates(), 10), "small", expired_every=20)
        probe_cert = self.sign_csr(self.list_ca)
        paths = self.list_paths(self.list_ca, probe_cert["serial_number"], "small-7.bench.example")
        small_counts = self.list_reads(f"{self.org_certificates()} stored", paths)

        # CRLs: `small` revocations through the API; the larger ones in bulk, then revoked once more
        # through the API so the server builds and stores their CRL itself.
        crl_cas = {size: self.make_ca(f"Bench CRL {size}", 2048) for size in plan.crl_sizes}
        for _ in range(small):
            cert = self.sign_csr(crl_cas[small])
            self.api.call("POST", f"{API}/certificates/{cert['id']}/revoke", {"reason": "key_compromise"})
        spare_small = [self.sign_csr(crl_cas[small])["id"] for _ in range(plan.revokes)]
        spare: dict[int, list[int]] = {}
        for size in (mid, large):
            # One to build the first CRL, then `rebuilds` to time here and as many in --scale.
            spare[size] = [self.sign_csr(crl_cas[size])["id"] for _ in range(2 * plan.rebuilds + 1)]
            self.bulk(crl_cas[size], size, f"crl{size}", revoked_every=1)
            self.api.call("POST", f"{API}/certificates/{spare[size].pop()}/revoke", {"reason": "superseded"})

        to_revoke = iter(spare[large])
        floor, revoke, rebuild, sign = self.rebuilds(crl_cas[large], large, to_revoke)
        self.latency_row(f"revoke at {large:,} revoked", revoke)
        self.latency_row(f"CRL fetch after a revocation, {large:,} revoked (signs it in)", rebuild, floor, 1.5)
        self.revoke_vs_sign_row(f"{large:,} revoked", revoke, sign)
        self.crl_memory_row(crl_cas[large], crl_cas[small])

        self.crl_fetches({size: crl_cas[size] for size in plan.crl_sizes})
        self.first_byte_row(small, large, "")
        # After the fetches, which need every CRL unchanged: revocations from `small` revoked on.
        sign, revoke = interleaved(
            [(lambda i: self.sign_csr(crl_cas[small]), plan.revokes), (self.revoker(iter(spare_small)), plan.revokes)],
            pause=self.pause,
        )
        self.revoke_vs_sign_row(f"{small:,} revoked", revoke, sign)

        large_counts = self.list_reads(f"{self.org_certificates()} stored", paths)
        self.query_count_row(small_counts, large_counts, f"{plan.list_small:,} vs {self.org_certificates():,}")
        self.crl_cas, self.small_counts, self.paths, self.spare_large = crl_cas, small_counts, paths, to_revoke

    def crl_memory_row(self, ca: CAInfo, warm: CAInfo) -> None:
        """What a full build of `ca`'s CRL from its rows holds at its peak, in copies of that CRL."""
        mem = json.loads(self.server.helper("crlmem", str(ca.id), str(warm.id)))
        copies = mem["held_mb"] / mem["crl_mb"]
        judged = mem["crl_mb"] >= 1  # a small CRL is dwarfed by the allocator's own steps
        self.add(
            Row(
                backend=self.server.backend,
                workload=f"CRL full build memory, {mem['entries']:,} entries",
                n=1,
                value=f"{copies:.1f} copies",
                target=f"<= {CRL_BUILD_COPIES} copies of the CRL",
                passed=(copies <= CRL_BUILD_COPIES) if judged else None,
                note=f"{mem['held_mb']:.1f} MiB over {mem['rss_before_mb']:.0f} MiB for a {mem['crl_mb']:.2f} MiB CRL"
                f" built in {mem['seconds']:.2f} s",
            )
        )

    def revoker(self, to_revoke: Iterator[int]) -> Callable[[int], None]:
        """An operation that revokes the next certificate of `to_revoke` through the API."""

        def revoke(i: int) -> None:
            self.api.call("POST", f"{API}/certificates/{next(to_revoke)}/revoke", {"reason": "superseded"})

        return revoke

    def rebuilds(self, ca: CAInfo, revoked: int, to_revoke: Iterator[int]) -> tuple[Samples, Samples, Samples, Samples]:
        """Revocations at `revoked` entries, each followed by a fetch of the CRL (which signs the
        revocation in), next to the build of that CRL and to as many sign-CSRs under that CA: one
        of each per round."""
        floor_op = floors.crl_build(ca.material, floors.crl_entries(revoked + 1))
        plan = self.plan

        def fetch(i: int) -> None:
            answer = self.anon.request("GET", f"/crl/{ca.slug}")
            assert answer.status == 200, answer.status

        floor, revoke, rebuild, sign = interleaved(
            [
                (floor_op, plan.rebuild_floors),
                (self.revoker(to_revoke), plan.rebuilds),
                (fetch, plan.rebuilds),
                (lambda i: self.sign_csr(ca), plan.rebuilds),
            ],
            max(plan.rebuilds, plan.rebuild_floors),
            pause=self.pause,
        )
        return floor, revoke, rebuild, sign

    def revoke_vs_sign_row(self, label: str, revoke: Samples, sign: Samples) -> Row:
        """Issue 17: a revocation's p50 no slower than a sign-CSR's, timed in the same rounds."""
        ratio = revoke.p50 / sign.p50
        return self.add(
            Row(
                backend=self.server.backend,
                workload=f"revoke / sign CSR p50, at {label}",
                n=revoke.n,
                p50_ms=_ms(revoke.p50),
                p95_ms=_ms(revoke.p95),
                floor_ms=_ms(sign.p50),
                floor_p95_ms=_ms(sign.p95),
                ratio=ratio,
                target="revoke p50 <= sign-CSR p50",
                passed=ratio <= 1,
                note=f"p50s: revoke {_ms(revoke.p50):.2f} ms, sign CSR {_ms(sign.p50):.2f} ms (floor column)",
            )
        )

    def crl_fetches(self, cas: dict[int, CAInfo]) -> dict[int, Samples]:
        """DER fetches of each CA's CRL, the sizes interleaved; no CRL may change meanwhile."""
        first: dict[int, Any] = {}
        first_byte: dict[int, list[float]] = {size: [] for size in cas}
        for size, ca in cas.items():
            first[size] = self.anon.call("GET", f"/crl/{ca.slug}")
            assert len(x509.load_der_x509_crl(first[size].body)) >= size

        def fetcher(size: int) -> Callable[[int], None]:
            path, length = f"/crl/{cas[size].slug}", len(first[size].body)

            def fetch(i: int) -> None:
                answer = self.anon.request("GET", path)
                assert answer.status == 200 and len(answer.body) == length, answer.status
                if i >= 0:
                    first_byte[size].append(answer.first_byte)

            return fetch

        ops = {size: fetcher(size) for size in cas}
        warm(*ops.values(), times=3)
        runs = [(op, self.plan.crl_fetch) for op in ops.values()]
        fetched = dict(zip(cas, interleaved(runs, pause=self.pause), strict=True))
        for size, ca in cas.items():
            # No signing on the request path: the CRL served at the end is the one served first.
            last = self.anon.call("GET", f"/crl/{ca.slug}")
            unchanged = last.headers["ETag"] == first[size].headers["ETag"] and last.body == first[size].body
            assert unchanged, "the CRL changed while only being read"
            self.first_byte[size] = Samples(first_byte[size])
            crl = x509.load_der_x509_crl(first[size].body)
            number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
            self.latency_row(
                f"CRL fetch, {size:,} revoked ({len(first[size].body) / 1e6:.2f} MB)",
                fetched[size],
                note=f"CRL number {number} unchanged; first byte p50 {_ms(self.first_byte[size].p50):.2f} ms",
            )
        return fetched

    def first_byte_row(self, small: int, large: int, label: str) -> None:
        """The large CRL's time to the first byte over the small one's: the server's own work."""
        ttfb = self.first_byte[large].p50 / self.first_byte[small].p50
        self.add(
            Row(
                backend=self.server.backend,
                workload=f"CRL first byte ratio {large:,} / {small:,}{label}",
                n=self.first_byte[large].n,
                p50_ms=_ms(self.first_byte[large].p50),
                p95_ms=_ms(self.first_byte[large].p95),
                floor_ms=_ms(self.first_byte[small].p50),
                ratio=ttfb,
                target="server work, for information",
                note="request sent to status line and headers received",
            )
        )

    def run_scale(self) -> None:
        """1,000,000 certificates in the organization: lists, filters, revocation and CRLs keep their targets."""
        plan = self.plan
        self.bulk(self.list_ca, plan.scale - self.org_certificates(), "scale", expired_every=20)
        stored = self.org_certificates()
        scale_counts = self.list_reads(f"{stored:,} stored", self.paths)
        self.query_count_row(self.small_counts, scale_counts, f"{plan.list_small:,} vs {stored:,}")
        small, _, large = plan.crl_sizes
        floor, revoke, rebuild, sign = self.rebuilds(self.crl_cas[large], large, self.spare_large)
        self.latency_row(f"revoke at {large:,} revoked, {stored:,} stored", revoke)
        self.latency_row(f"CRL fetch after a revocation, {large:,} revoked, {stored:,} stored", rebuild, floor, 1.5)
        self.revoke_vs_sign_row(f"{large:,} revoked, {stored:,} stored", revoke, sign)
        self.crl_fetches({size: self.crl_cas[size] for size in (small, large)})
        self.first_byte_row(small, large, f" @{stored:,}")

    def memory_row(self) -> None:
        peaks = self.server.peak_rss
        worst = max(peaks.values()) if peaks else 0.0
        self.add(
            Row(
                backend=self.server.backend,
                workload=f"peak RSS per worker ({len(peaks)} worker pids)",
                n=len(peaks),
                value=f"{worst:.0f} MB",
                target="<= 200 MB per worker",
                passed=bool(peaks) and worst <= 200,
                note="MB: " + ", ".join(f"{v:.0f}" for v in sorted(peaks.values())),
            )
        )
