"""Real processes for the reliability tests: gunicorn servers sharing one dedicated database, and a
private PostgreSQL cluster that a test may stop and start without touching the machine's own."""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import environ
import pytest
from cryptography.fernet import Fernet

from tests.conftest import _SERVER_SETTINGS, LiveServer, _free_port, _wait_until_ready

REPO = Path(__file__).resolve().parents[2]
ROOT_PASSWORD = "Reliable-Root-2024!"
SESSION_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = SESSION_URL.startswith(("postgres://", "postgresql://"))


# --- HTTP, as a client on the network sees it ------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str, url: str, *, body: bytes | dict | None = None, token: str | None = None, form: bool = False,
    content_type: str | None = None, headers: dict[str, str] | None = None, timeout: float = 30,
) -> Answer:  # fmt: skip
    """One request with urllib; every status (also 4xx/5xx) comes back as an Answer."""
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    data: bytes | None
    if isinstance(body, dict):
        data = urlencode(body).encode() if form else json.dumps(body).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded" if form else "application/json"
    else:
        data = body
    if content_type:
        sent["Content-Type"] = content_type
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


def login(server: LiveServer, username: str, password: str, **headers: str) -> Answer:
    return http("POST", f"{server.url}/api/v1/auth/token", body={"username": username, "password": password},
                form=True, headers=headers)  # fmt: skip


# --- Databases ----------------------------------------------------------------------------------


@dataclass
class Database:
    url: str

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """Rows of one query, on a connection of its own (the server's tables, as stored)."""
        if self.url.startswith("sqlite"):
            import sqlite3

            with sqlite3.connect(urlsplit(self.url).path) as conn:
                return conn.execute(query.replace("%s", "?"), params).fetchall()
        import psycopg

        with psycopg.connect(self.url, connect_timeout=10) as conn:
            return conn.execute(query, params).fetchall()


def _admin_connection(url: str) -> dict[str, Any]:
    config = environ.Env.db_url_config(url)
    return {
        "host": config["HOST"] or "127.0.0.1",
        "port": config["PORT"] or 5432,
        "user": config["USER"] or "postgres",
        "password": config["PASSWORD"] or None,
        "dbname": "postgres",
        "autocommit": True,
        "connect_timeout": 10,
    }


def create_database(server_url: str, prefix: str) -> str:
    """A new, empty database on the server of `server_url`; its URL."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(**_admin_connection(server_url)) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlsplit(server_url)._replace(path=f"/{name}").geturl()


def drop_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(**_admin_connection(url)) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(env: dict[str, str], database_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=REPO, env={**env, "DATABASE_URL": database_url}, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="session")
def server_env(tmp_path_factory) -> dict[str, str]:
    """The environment every server process and script shares: one secret key, one key for
    private keys at rest, one data directory, and a login limit nobody reaches by accident."""
    env = {k: v for k, v in os.environ.items() if k not in _SERVER_SETTINGS}
    env.update(
        DATA_DIR=str(tmp_path_factory.mktemp("rel-data")),
        SECRET_KEY=secrets.token_urlsafe(50),
        PRIVATE_KEY_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        AUTH_RATE_LIMIT="10000/minute",
        REGISTRATION_RATE_LIMIT="10000/minute",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        NUM_PROXIES="1",  # tests give each client its own address in X-Forwarded-For
        DJANGO_SETTINGS_MODULE="pkiserver.settings",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
        CACHE_URL="dbcache://pkiserver_cache",  # shared by the workers; a test may name Redis instead
    )
    return env


@pytest.fixture(scope="session")
def rel_database(server_env) -> Iterator[Database]:
    """A dedicated, migrated database: `pkiserver_rel_<random>` on the session's PostgreSQL,
    or a SQLite file when the session runs on SQLite."""
    if ON_POSTGRES:
        url = create_database(SESSION_URL, "pkiserver_rel")
    else:
        url = f"sqlite:///{Path(server_env['DATA_DIR']) / 'rel.sqlite3'}"
    try:
        migrate(server_env, url)
        yield Database(url)
    finally:
        if ON_POSTGRES:
            drop_database(url)


# --- Server processes ---------------------------------------------------------------------------


@dataclass
class Server(LiveServer):
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log else ""


Launch = Callable[..., Server]


@pytest.fixture(scope="session")
def launch(server_env, tmp_path_factory) -> Iterator[Launch]:
    """Start `gunicorn pkiserver.wsgi` on a free port against a database; stopped at the end."""
    started: list[Server] = []

    def start(database: Database, *, workers: int = 3, **env: str) -> Server:
        port = _free_port()
        full_env = {**server_env, "DATABASE_URL": database.url, **env}
        log = tmp_path_factory.mktemp("rel-server") / "gunicorn.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "pkiserver.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}",
                 "--graceful-timeout", "5", "--no-control-socket"],
                cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        server = Server(url=f"http://127.0.0.1:{port}", data_dir=Path(server_env["DATA_DIR"]), env=full_env,
                        process=process, log=log, extra=env)  # fmt: skip
        started.append(server)
        _wait_until_ready(server.url, process, log)
        return server

    yield start
    for server in started:
        assert server.process is not None
        server.process.terminate()
    for server in started:
        assert server.process is not None
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture(scope="session")
def server_a(launch, rel_database) -> Server:
    """Process A: gunicorn with three workers."""
    if not ON_POSTGRES:
        pytest.skip("several processes on one database need PostgreSQL")
    return launch(rel_database, workers=3)


@pytest.fixture(scope="session")
def server_b(launch, rel_database, server_a) -> Server:
    """Process B: a second, separate gunicorn on another port, same database and keys."""
    return launch(rel_database, workers=2)


def bootstrap_root(server: Server) -> str:
    """Create the first user (a superuser) through the API if needed; its access token."""
    created = http("POST", f"{server.url}/api/v1/users/", body={
        "username": "rel-root", "email": "rel-root@example.com", "password": ROOT_PASSWORD, "role": "superuser",
    })  # fmt: skip
    assert created.status in (201, 401, 403), (created.status, created.body)
    answer = login(server, "rel-root", ROOT_PASSWORD, **{"X-Forwarded-For": random_address()})
    assert answer.status == 200, (answer.status, answer.body)
    return answer.json()["access_token"]


@pytest.fixture(scope="session")
def root_token(server_a) -> str:
    return bootstrap_root(server_a)


def random_address() -> str:
    """A client address of its own, so the per-address login throttle of one test never counts
    another test's attempts (the servers trust one proxy: NUM_PROXIES=1)."""
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"


# --- A private PostgreSQL cluster that a test may stop ------------------------------------------


@dataclass
class PrivateCluster:
    """PostgreSQL in a temporary directory on its own port: stopping it harms nobody else."""

    bin_dir: Path
    data_dir: Path
    port: int
    log: Path

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}\n{done.stderr}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        """Fast shutdown: open transactions are rolled back, connected clients are cut off."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"


def _postgres_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="session")
def private_cluster() -> Iterator[PrivateCluster]:
    if not ON_POSTGRES:
        pytest.skip("the database outage test runs with the PostgreSQL suite")
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb) are not installed")
    home = Path(tempfile.mkdtemp(prefix="pkiserver-rel-pg-"))  # outside pytest's 0700 tmp: postgres must reach it
    data_dir = home / "data"
    data_dir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
        shutil.chown(data_dir, "postgres")
    cluster = PrivateCluster(bin_dir, data_dir, _free_port(), home / "postgres.log")
    try:
        cluster._run("initdb", "-D", str(data_dir), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        cluster.start()
        yield cluster
    finally:
        if (data_dir / "postmaster.pid").exists():
            cluster._run("pg_ctl", "-D", str(data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(home, ignore_errors=True)
