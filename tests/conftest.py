"""End-to-end fixtures: a real pkiserver process (gunicorn) on its own database, and FastPKI's CLI."""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
import pytest

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 60.0
CLI_REQUIREMENTS = REPO / "requirements-cli.txt"
CLI_VENV = REPO / ".venv-fastpki"

# Variables of the test session that must not leak into the server's environment.
_SERVER_SETTINGS = ("DATA_DIR", "DATABASE_URL", "CACHE_URL", "SECRET_KEY", "DEBUG")


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    env: dict[str, str]

    def manage(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run `manage.py` against the server's database and data directory."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_database(tmp_path_factory) -> Iterator[str]:
    """A DATABASE_URL of its own: a SQLite file, or a fresh PostgreSQL database when the
    test session runs on PostgreSQL."""
    session_url = os.environ.get("DATABASE_URL", "")
    if not session_url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path_factory.mktemp('live-db') / 'pkiserver.sqlite3'}"
        return

    import psycopg

    config = environ.Env.db_url_config(session_url)
    name = f"pkiserver_cli_{secrets.token_hex(4)}"
    admin = {
        "host": config["HOST"] or "127.0.0.1",
        "port": config["PORT"] or 5432,
        "user": config["USER"],
        "password": config["PASSWORD"] or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(session_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(**admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def live_pkiserver(server_database, tmp_path_factory) -> Iterator[LiveServer]:
    """pkiserver under gunicorn (2 workers) on a free port, migrated and answering."""
    data_dir = tmp_path_factory.mktemp("live-data")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in _SERVER_SETTINGS}
    env.update(
        DATA_DIR=str(data_dir),
        DATABASE_URL=server_database,
        AUTH_RATE_LIMIT="1000/minute",
        REGISTRATION_RATE_LIMIT="1000/minute",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SETTINGS_MODULE="pkiserver.settings",
        PYTHONUNBUFFERED="1",
        CACHE_URL="dbcache://pkiserver_cache",  # two workers share one cache
    )
    server = LiveServer(url=f"http://127.0.0.1:{port}", data_dir=data_dir, env=env)
    migrated = server.manage("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    log_path = data_dir / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "pkiserver.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "2",
                "--no-control-socket",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_ready(server.url, process, log_path)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll until the API answers (401 for an anonymous /users/me)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"pkiserver exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/users/me", timeout=2):
                return
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 401:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"pkiserver did not answer within {READY_TIMEOUT}s:\n{log.read_text()}")


# --- FastPKI's command-line client -----------------------------------------------------------


def client_in_venv(venv: Path, requirements: Path, package: str, executable: str) -> Path:
    """`executable` of a client installed from `requirements` (which pins `package`) into a
    virtualenv of its own (it has its own dependency tree), made once and kept."""
    match = re.search(rf"^{re.escape(package)}==(\S+)$", requirements.read_text(), re.MULTILINE)
    assert match, f"{requirements} must pin {package}"
    exe, marker = venv / "bin" / executable, f"{package}-{match.group(1)}.dist-info"
    lock_path = Path(tempfile.gettempdir()) / f"pkiserver-{venv.name}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers may get here together
        if not exe.exists() or not list(venv.glob(f"lib/python*/site-packages/{marker}")):
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
            subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(requirements)],
                check=True,
                timeout=600,
            )
    return exe


@pytest.fixture(scope="session")
def fastpki_exe() -> Path:
    """FastPKI's CLI in its own virtualenv, made once."""
    return client_in_venv(CLI_VENV, CLI_REQUIREMENTS, "fastpki", "fastpki")


@pytest.fixture(scope="session")
def certbot_exe() -> Path:
    """certbot (PyPI, pinned in requirements-certbot.txt) in its own virtualenv, made once."""
    return client_in_venv(REPO / ".venv-certbot", REPO / "requirements-certbot.txt", "certbot", "certbot")


class Cli:
    """`fastpki` with a configuration directory of its own (one per person)."""

    def __init__(self, exe: Path, config_home: Path) -> None:
        self.exe = exe
        self.env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(config_home),
            "COLUMNS": "500",  # rich wraps at the terminal width; keep JSON on long lines
            "NO_COLOR": "1",
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.exe), *args],
            env=self.env,
            input="",
            capture_output=True,
            text=True,
            timeout=60,
        )

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, f"fastpki {' '.join(args)}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def json(self, group: str, *args: str) -> Any:
        """`fastpki GROUP --output json ARGS...`, parsed."""
        return json.loads(self.ok(group, "--output", "json", *args))

    def fails(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 1, f"fastpki {' '.join(args)}\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr
