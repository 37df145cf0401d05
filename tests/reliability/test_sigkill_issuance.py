"""A process killed with SIGKILL in the middle of an issuance leaves no half-written certificate.

The child (issuance_child.py) sleeps inside the issuance transaction, after the certificate row
and its audit entry are written and before the commit; we kill it there. Runs on SQLite and
PostgreSQL (its own database). Checked, when the child still slept between the two writes, against
a naive version (a scratch copy committing the row before its audit entry): the killed issuances'
rows stayed behind, unaudited.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.reliability.conftest import REPO

pytestmark = pytest.mark.reliability

KILLS = 3  # the n-th child commits n issuances, then dies inside the next one


def _child(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.issuance_child", *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _output(env: dict[str, str], *args: str) -> dict:
    process = _child(env, *args)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return json.loads(out)


def test_sigkill_during_issuance_leaves_no_half_written_certificate(server_env, rel_database):
    env = {**server_env, "DATABASE_URL": rel_database.url, "REL_AUDIT_DELAY": "0.3"}
    made = _output(env, "setup")
    committed: list[int] = []
    killed: list[str] = []

    for kill in range(1, KILLS + 1):
        child = _child(env, "issue", str(made["user"]), str(made["ca"]))
        assert child.stdout is not None
        issued, started = 0, time.monotonic()
        for line in child.stdout:  # each of these lines is printed before the child goes on
            word, value = line.split()
            if word == "issued":
                committed.append(int(value))
                issued += 1
            elif word == "in-transaction" and issued == kill:
                os.kill(child.pid, signal.SIGKILL)  # the row of `value` is written, uncommitted
                killed.append(value)
                break
            # The CA row lock of a killed predecessor must be gone, or this child would hang here.
            assert time.monotonic() - started < 30, "the child stopped making progress"
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
        child.stdout.close()
        if child.stderr:
            child.stderr.close()

    found = _output(env, "report", str(made["ca"]), *killed)
    assert len(killed) == KILLS
    assert found["certificates"] == sorted(committed)  # every reported issuance, nothing else
    assert found["killed_rows"] == 0 and found["killed_entries"] == []
    assert found["unaudited"] == [] and found["entries_without_certificate"] == []
    assert found["entries_naming_another_serial"] == [] and found["empty_rows"] == 0
