"""Command line of the benchmark: run the workloads per backend, print one table and one JSON line."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.server import postgres_database, running_server
from bench.workloads import Bench, Plan, Row

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
SECTIONS = ("signing", "issuing", "ocsp", "me", "crl")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    import cryptography

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "cryptography": cryptography.__version__,
    }


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


@contextlib.contextmanager
def database(backend: str, admin_url: str) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None  # the embedded default: a SQLite file in the server's data directory
    else:
        with postgres_database(admin_url) as url:
            yield url


def run_backend(backend: str, args: argparse.Namespace, plan: Plan) -> tuple[list[Row], dict[str, Any]]:
    sections = set(args.only.split(",")) if args.only else set(SECTIONS)
    started, load_before = time.perf_counter(), loadavg()
    log(f"== {backend}: gunicorn -w {args.workers}, load average {load_before}")
    with database(backend, args.database_url) as url, running_server(backend, url, args.workers) as server:
        bench = Bench(server, plan, log=log)
        bench.setup()
        if "signing" in sections:
            bench.run_signing()
        if "issuing" in sections:
            bench.run_issuing()
        if "ocsp" in sections:
            bench.run_ocsp()
        if "me" in sections:
            bench.run_me()
        if "crl" in sections:
            bench.run_crls_and_lists()
            if args.scale and backend == "postgres":
                bench.run_scale()
        bench.memory_row()
        server_version = None
        if backend == "postgres":
            import psycopg

            with psycopg.connect(url) as conn:
                server_version = conn.info.parameter_status("server_version")
    info = {
        "seconds": round(time.perf_counter() - started, 1),
        "load_average_before": load_before,
        "load_average_after": loadavg(),
        "database": f"PostgreSQL {server_version}" if server_version else "SQLite (embedded default)",
    }
    log(f"== {backend} done in {info['seconds']} s, load average {info['load_average_after']}")
    return bench.rows, info


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "" if value is None else format(value, spec)


def table(rows: list[Row]) -> str:
    headers = ["backend", "workload", "n", "p50 ms", "p95 ms", "req/s", "floor p50", "ratio", "target", "result"]
    lines = [
        [
            r.backend,
            r.workload,
            str(r.n),
            _fmt(r.p50_ms),
            _fmt(r.p95_ms),
            _fmt(r.rps, ".1f"),
            _fmt(r.floor_ms),
            _fmt(r.ratio) if r.ratio is not None else r.value,
            r.target,
            {True: "pass", False: "FAIL", None: "-"}[r.passed] + (f" ({r.note})" if r.note else ""),
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers[:-1])]
    out = []
    for cells in [headers, *lines]:
        out.append(" | ".join(c.ljust(w) for c, w in zip(cells[:-1], widths, strict=True)) + " | " + cells[-1])
        if cells is headers:
            out.append("-+-".join("-" * w for w in widths) + "-+-------")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description="pkiserver benchmark (see bench/README.md)")
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_POSTGRES),
        help="a PostgreSQL server where the bench may create and drop its own database",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--quick", action="store_true", help="fewer samples, same dataset sizes")
    parser.add_argument("--tiny", action="store_true", help="tiny samples and datasets (the test suite's smoke run)")
    parser.add_argument("--scale", action="store_true", help="also 1,000,000 certificates on PostgreSQL")
    parser.add_argument("--only", help=f"comma-separated sections among {','.join(SECTIONS)}")
    parser.add_argument("--json-out", type=Path, help="also write the JSON line to this file")
    args = parser.parse_args(argv)

    plan = Plan.tiny() if args.tiny else Plan.quick() if args.quick else Plan()
    backends = ["postgres", "sqlite"] if args.backend == "both" else [args.backend]
    if args.scale and "postgres" not in backends:
        parser.error("--scale needs the postgres backend")
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "workers": args.workers,
        "mode": "tiny" if args.tiny else "quick" if args.quick else "full",
        "scale": args.scale,
        "backends": {},
    }
    rows: list[Row] = []
    for backend in backends:
        backend_rows, info = run_backend(backend, args, plan)
        rows += backend_rows
        report["backends"][backend] = info
    report["rows"] = [r.as_dict() for r in rows]
    report["passed"] = all(r.passed is not False for r in rows)
    print(table(rows))
    line = json.dumps(report, separators=(",", ":"))
    print(line)
    if args.json_out:
        args.json_out.write_text(line + "\n")
    return 0 if report["passed"] else 1
