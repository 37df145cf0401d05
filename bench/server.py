"""pkiserver as production runs it: migrated, under gunicorn with several workers, on its own database.

The server runs the code of one tree: this repository, or another checkout of it (`--compare`).
Its `manage.py`, gunicorn and the bench's helper processes (`bench.bulk`, `bench.probe`,
`bench.crlmem`, which read the application's models) run from that tree, with it as `PYTHONPATH`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 90.0
# The bench chooses these; the caller's environment must not leak into the server.
_OWN = ("DATA_DIR", "DATABASE_URL", "CACHE_URL", "SECRET_KEY", "DEBUG", "PRIVATE_KEY_ENCRYPTION_KEY", "PYTHONPATH")


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database `pkiserver_bench_<random>` on the server of `admin_url`, dropped afterwards."""
    import psycopg

    parts = urlsplit(admin_url)
    name = f"pkiserver_bench_{secrets.token_hex(4)}"
    connect = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "password": parts.password,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**connect) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(**connect) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


DEFAULT_REDIS = "redis://127.0.0.1:6379"
FALLBACK_CACHE = "dbcache://pkiserver_cache"


def cache_for(base: str, slot: int) -> str:
    """The CACHE_URL of the bench's server number `slot`: a Redis database of its own, emptied
    (14 + slot of the Redis server `base`), as production shares one between its workers; the
    database cache when Redis does not answer. Any other URL is used as it is."""
    if not base.startswith("redis://"):
        return base
    import redis

    url = f"{base.rstrip('/')}/{14 + slot}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()
    except redis.exceptions.ConnectionError:
        return FALLBACK_CACHE
    return url


@contextlib.contextmanager
def database(backend: str, admin_url: str) -> Iterator[str | None]:
    """The database URL a server of `backend` runs on (None: the embedded SQLite default, a file in
    the server's fresh data directory)."""
    if backend == "sqlite":
        yield None
    else:
        with postgres_database(admin_url) as url:
            yield url


def database_label(url: str | None) -> str:
    if url is None:
        return "SQLite (embedded default)"
    import psycopg

    with psycopg.connect(url) as conn:
        return f"PostgreSQL {conn.info.parameter_status('server_version')}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def rss_mb(pid: int) -> float | None:
    """VmRSS of a process, in MiB (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Server:
    backend: str
    url: str
    env: dict[str, str]
    data_dir: Path
    workers: int
    tree: Path = REPO
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    peak_rss: dict[int, float] = field(default_factory=dict)
    _sampler: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or 80

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.tree,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def helper(self, module: str, *args: str, extra_env: dict[str, str] | None = None) -> str:
        """Run `python -m bench.<module>` against the server's database and settings."""
        done = subprocess.run(
            [sys.executable, "-m", f"bench.{module}", *args],
            cwd=self.tree,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if done.returncode != 0:
            raise RuntimeError(f"bench.{module} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def worker_pids(self) -> list[int]:
        return _children(self.process.pid) if self.process else []

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            for pid in self.worker_pids():
                value = rss_mb(pid)
                if value is not None and value > self.peak_rss.get(pid, 0.0):
                    self.peak_rss[pid] = value

    def start(self) -> None:
        self.manage("migrate", "--noinput")
        self.log_path = self.data_dir / "gunicorn.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "pkiserver.wsgi",
                    "--workers",
                    str(self.workers),
                    "--bind",
                    f"{self.host_port[0]}:{self.host_port[1]}",
                    "--timeout",
                    "300",
                    "--graceful-timeout",
                    "5",
                ],
                cwd=self.tree,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:  # noqa: S310 - our server
                    if answer.status == 200 and len(self.worker_pids()) == self.workers:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer in {READY_TIMEOUT}s:\n{self.log_path.read_text()}")
            time.sleep(0.2)
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def stop(self) -> None:
        self._stop.set()
        if self._sampler:
            self._sampler.join()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def running_server(
    backend: str, database_url: str | None, workers: int, cache_url: str, keep: bool = False, tree: Path = REPO
) -> Iterator[Server]:
    """A migrated pkiserver under gunicorn, running the code of `tree`: on `database_url`, or on the
    embedded SQLite default (a fresh data directory) when it is None; its cache on `cache_url`."""
    from cryptography.fernet import Fernet

    data_dir = Path(tempfile.mkdtemp(prefix=f"pkiserver-bench-{backend}-"))
    env = {k: v for k, v in os.environ.items() if k not in _OWN}
    env.update(
        DATA_DIR=str(data_dir),
        SECRET_KEY=secrets.token_urlsafe(48),
        PRIVATE_KEY_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        AUTH_RATE_LIMIT="100000/minute",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="pkiserver.settings",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(tree),
        CACHE_URL=cache_url,
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    port = _free_port()
    server = Server(
        backend=backend, url=f"http://127.0.0.1:{port}", env=env, data_dir=data_dir, workers=workers, tree=tree
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
