"""Command line of the benchmark: run the workloads per backend, print one table and one JSON line."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import compare
from bench.server import DEFAULT_REDIS, cache_for, database, database_label, running_server
from bench.workloads import SECTIONS, Bench, Plan, Row

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"


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


def run_backend(backend: str, args: argparse.Namespace, plan: Plan) -> tuple[list[Row], dict[str, Any]]:
    started, load_before = time.perf_counter(), loadavg()
    log(f"== {backend}: gunicorn -w {args.workers}, load average {load_before}")
    cache = cache_for(args.cache_url, 0)
    with database(backend, args.database_url) as url, running_server(backend, url, args.workers, cache) as server:
        bench = Bench(server, plan, log=log)
        bench.run(sections(args), scale=args.scale)
        label = database_label(url)
    info = {
        "seconds": round(time.perf_counter() - started, 1),
        "load_average_before": load_before,
        "load_average_after": loadavg(),
        "database": label,
        "cache": cache,
    }
    log(f"== {backend} done in {info['seconds']} s, load average {info['load_average_after']}")
    return bench.rows, info


def sections(args: argparse.Namespace) -> set[str]:
    return set(args.only.split(",")) if args.only else set(SECTIONS)


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "" if value is None else format(value, spec)


def grid(headers: list[str], lines: list[list[str]]) -> str:
    """A plain-text table: columns padded to their widest cell, the last one left free."""
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers[:-1])]
    out = []
    for cells in [headers, *lines]:
        out.append(" | ".join(c.ljust(w) for c, w in zip(cells[:-1], widths, strict=True)) + " | " + cells[-1])
        if cells is headers:
            out.append("-+-".join("-" * w for w in widths) + "-+-------")
    return "\n".join(out)


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
    return grid(headers, lines)


def run_compare(args: argparse.Namespace, plan: Plan, backends: list[str], report: dict[str, Any]) -> str:
    """The working tree against `args.compare` (bench.compare): fills `report`, returns the table.
    `passed` is whether no workload's p50 is over 1.3x REF's."""
    current = compare.current_tree()
    trees: dict[str, list[Row]] = {"current": [], "ref": []}
    with compare.ref_tree(args.compare) as ref:
        report["compare"] = {"current": current.label, "ref": ref.label, "slower_than": compare.SLOWER}
        for backend in backends:
            load_before = loadavg()
            log(f"== {backend}: {current.label} against {ref.label}, load average {load_before}")
            rows, info = compare.run_pair(
                backend,
                [current, ref],
                plan,
                sections(args),
                database_url=args.database_url,
                cache_url=args.cache_url,
                workers=args.workers,
                scale=args.scale,
                log=log,
            )
            for name in trees:
                trees[name] += rows[name]
            report["backends"][backend] = {**info, "load_average_before": load_before, "load_average_after": loadavg()}
            log(f"== {backend} done in {info['seconds']} s, load average {loadavg()}")
    entries = compare.compared(trees["current"], trees["ref"])
    report["rows"] = [{k: round(v, 3) if isinstance(v, float) else v for k, v in e.items()} for e in entries]
    report["trees"] = {name: [r.as_dict() for r in rows] for name, rows in trees.items()}
    report["passed"] = not any(e["slower"] for e in entries)
    heading = f"current: {current.label}; REF: {ref.label}; ratio = current / REF"
    return heading + "\n" + grid(compare.HEADERS, [compare.cells(e) for e in entries])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description="pkiserver benchmark (see bench/README.md)")
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_POSTGRES),
        help="a PostgreSQL server where the bench may create and drop its own database",
    )
    parser.add_argument(
        "--cache-url",
        default=os.environ.get("BENCH_CACHE_URL", DEFAULT_REDIS),
        help="the servers' CACHE_URL; a redis:// server gives each its own database (default: local Redis)",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--quick", action="store_true", help="fewer samples, same dataset sizes")
    parser.add_argument("--tiny", action="store_true", help="tiny samples and datasets (the test suite's smoke run)")
    parser.add_argument("--scale", action="store_true", help="also 1,000,000 certificates on PostgreSQL")
    parser.add_argument("--only", help=f"comma-separated sections among {','.join(SECTIONS)}")
    parser.add_argument("--json-out", type=Path, help="also write the JSON line to this file")
    parser.add_argument(
        "--compare",
        metavar="REF",
        help="run the working tree and REF (a commit, in a temporary worktree) in turns; print each workload's ratio",
    )
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
    if args.compare:
        text = run_compare(args, plan, backends, report)
    else:
        rows: list[Row] = []
        for backend in backends:
            backend_rows, info = run_backend(backend, args, plan)
            rows += backend_rows
            report["backends"][backend] = info
        report["rows"] = [r.as_dict() for r in rows]
        report["passed"] = all(r.passed is not False for r in rows)
        text = table(rows)
    print(text)
    line = json.dumps(report, separators=(",", ":"))
    print(line)
    if args.json_out:
        args.json_out.write_text(line + "\n")
    return 0 if report["passed"] else 1
