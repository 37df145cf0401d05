"""The data directory is created 0700, the embedded SQLite database and its journal files 0600 (SPEC §11)."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pkiserver.tests.test_settings_env import REPO, child_env

DB_NAME = "pkiserver.sqlite3"
JOURNALS = ("-journal", "-wal", "-shm")

# Migrates, writes a row and, with the connection still open (so the WAL and its index exist),
# reports the journal mode and every file of the data directory with its mode.
MIGRATE_WRITE_AND_LIST = """
import json, os, stat, sys
import django
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0, interactive=False)
from accounts.models import User
User.objects.create(username="writer", email="writer@example.com")
with connection.cursor() as cursor:
    journal_mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
data_dir = os.environ["DATA_DIR"]
modes = {name: stat.S_IMODE(os.stat(os.path.join(data_dir, name)).st_mode) for name in os.listdir(data_dir)}
print(json.dumps({"journal_mode": journal_mode, "modes": modes}))
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run(args: list[str], data_dir: Path, *, umask: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=REPO, env=child_env(data_dir), umask=umask, capture_output=True, text=True, timeout=180
    )


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_manage_py_migrate_creates_a_private_data_dir_and_database(tmp_path, umask):
    data_dir = tmp_path / "data" / "pkiserver"

    result = run([sys.executable, "manage.py", "migrate", "--noinput"], data_dir, umask=umask)

    assert result.returncode == 0, result.stderr
    assert mode(data_dir) == 0o700
    assert mode(data_dir / DB_NAME) == 0o600
    assert mode(data_dir / "secret_key") == 0o600
    assert mode(data_dir / "private_key_encryption.key") == 0o600
    for suffix in JOURNALS:  # present only if a process left them behind
        journal = data_dir / f"{DB_NAME}{suffix}"
        assert not journal.exists() or mode(journal) == 0o600, suffix


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_the_write_ahead_log_and_its_index_are_private_while_in_use(tmp_path, umask):
    data_dir = tmp_path / "data"

    result = run([sys.executable, "-c", MIGRATE_WRITE_AND_LIST], data_dir, umask=umask)

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["journal_mode"] == "wal"
    modes = shown["modes"]
    assert {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm"} <= set(modes)
    assert mode(data_dir) == 0o700
    assert modes == dict.fromkeys(modes, 0o600)  # the database, its journals, the lock and key files


def test_an_existing_readable_database_is_made_private(tmp_path):
    data_dir = tmp_path / "data"
    assert run([sys.executable, "manage.py", "migrate", "--noinput"], data_dir, umask=0o022).returncode == 0
    database = data_dir / DB_NAME
    database.chmod(0o644)  # as versions before this one left it
    leftover_wal = data_dir / f"{DB_NAME}-wal"
    leftover_wal.touch(mode=0o644)

    result = run([sys.executable, "manage.py", "migrate", "--noinput"], data_dir, umask=0o022)

    assert result.returncode == 0, result.stderr
    assert mode(database) == 0o600
    assert not leftover_wal.exists() or mode(leftover_wal) == 0o600
    assert f"Made {database} private to this account" in result.stderr


def test_an_existing_data_dir_keeps_its_mode(tmp_path):
    # The operator may point DATA_DIR at a directory shaped for their system; only the files are ours.
    data_dir = tmp_path / "shared"
    data_dir.mkdir(mode=0o750)
    data_dir.chmod(0o750)

    result = run([sys.executable, "manage.py", "migrate", "--noinput"], data_dir, umask=0o022)

    assert result.returncode == 0, result.stderr
    assert mode(data_dir) == 0o750
    assert mode(data_dir / DB_NAME) == 0o600


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


@pytest.mark.live
def test_the_run_script_keeps_the_database_private(tmp_path):
    data_dir = tmp_path / "run-data"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "run.log").open("w")
    process = subprocess.Popen(
        ["./run", f"127.0.0.1:{port}"],
        cwd=REPO,
        env=child_env(data_dir, ALLOWED_HOSTS="127.0.0.1"),
        umask=0o022,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # ./run's server and its children share one process group, ended below
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            assert process.poll() is None, (tmp_path / "run.log").read_text()
            try:
                if _request(f"{url}/readyz") == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()
            time.sleep(0.5)
        first_user = {
            "username": "root",
            "email": "root@example.com",
            "password": "Run-Script-Root-7",
            "role": "superuser",
        }
        assert _request(f"{url}/api/v1/users/", first_user) == 201  # a write, with the server's own connection

        assert mode(data_dir) == 0o700
        files = [p for p in data_dir.iterdir() if p.is_file()]
        assert data_dir / DB_NAME in files
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
