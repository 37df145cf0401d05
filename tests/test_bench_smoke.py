"""The benchmark harness (`python -m bench`, bench/README.md) runs end to end: tiny sizes, SQLite.

Only the harness is checked here (a table, one JSON line, every workload measured); its figures
and targets are for the bench's own command, never for the test suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WORKLOADS = (
    "sign CSR (RSA-2048 CA), sequential",
    "GET /healthz, sequential",
    "GET /users/me, sequential",
    "sign CSR, 4 concurrent clients",
    "issue, server RSA-2048 key, sequential",
    "issue, server RSA-2048 key, 4 concurrent",
    "issue under an RSA-4096 CA, sequential",
    "OCSP POST, sequential",
    "OCSP POST, 4 concurrent clients",
    "GET /healthz (no auth), 8 concurrent",
    "GET /users/me (bearer), 8 concurrent",
    "revoke at 500 revoked (CRL rebuild)",
    "CRL full build memory, ",
    "CRL fetch p50 ratio 500 / 5",
    "list page of 100 @",
    "list query count",
    "peak RSS per worker",
)


@pytest.mark.live
def test_tiny_run_prints_a_table_and_one_json_line(tmp_path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--backend", "sqlite", "--tiny", "--workers", "2", "--json-out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert "Traceback" not in done.stderr, done.stderr[-4000:]
    assert done.returncode in (0, 1), done.stderr[-4000:]  # 1: a target was missed, which is not our concern
    lines = done.stdout.strip().splitlines()
    assert [cell.strip() for cell in lines[0].split("|")][:4] == ["backend", "workload", "n", "p50 ms"]
    report = json.loads(lines[-1])
    assert report == json.loads(out.read_text())
    assert report["mode"] == "tiny" and set(report["backends"]) == {"sqlite"}
    assert report["machine"]["nproc"] >= 1 and report["machine"]["cpu"]
    rows = report["rows"]
    for workload in WORKLOADS:
        matching = [r for r in rows if r["workload"].startswith(workload)]
        assert matching, f"no row for {workload!r}: {[r['workload'] for r in rows]}"
        assert all(r["n"] >= 1 for r in matching), matching
    build = next(r for r in rows if r["workload"].startswith("CRL full build memory"))
    assert build["value"].endswith(" copies") and float(build["value"].split()[0]) > 0, build
    timed = [r for r in rows if r["p50_ms"] is not None]
    assert timed and all(0 < r["p50_ms"] <= r["p95_ms"] for r in timed), timed
    judged = [r for r in rows if r["target"] and r["passed"] is not None]
    assert all(isinstance(r["ratio"], float) or r["value"] for r in judged), judged
    assert report["passed"] == all(r["passed"] is not False for r in rows)
    assert len(lines) == 2 + len(rows) + 1  # header, rule, one line per row, the JSON line
