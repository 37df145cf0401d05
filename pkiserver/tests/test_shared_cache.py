"""The cache is per process by default (`./run` is one process); gunicorn refuses several workers on
it, since login and registration throttles would then count per worker (README, CACHE_URL)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pkiserver.tests.test_settings_env import REPO, child_env, run, shown

SHOW_CACHE = """
import django
django.setup()
from django.conf import settings
import json
print(json.dumps(settings.CACHES["default"]))
"""


def test_the_default_cache_is_local_memory(tmp_path: Path) -> None:
    assert shown(run(tmp_path, SHOW_CACHE))["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert shown(run(tmp_path, SHOW_CACHE, CACHE_URL="redis://127.0.0.1:6379/3")) == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/3",
    }


def _gunicorn(data_dir: Path, workers: int, **variables: str) -> tuple[subprocess.Popen[str], int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "pkiserver.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--no-control-socket"],
        cwd=REPO, env=child_env(data_dir, **variables), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ), port  # fmt: skip


@pytest.mark.parametrize("cache", [{}, {"CACHE_URL": "locmemcache://"}], ids=["default", "locmem"])
def test_several_workers_on_a_per_process_cache_are_refused(tmp_path: Path, cache: dict[str, str]) -> None:
    process, _ = _gunicorn(tmp_path, 2, **cache)
    output, _ = process.communicate(timeout=60)

    assert process.returncode != 0
    assert "2 workers need a shared cache" in output
    assert "CACHE_URL" in output and "redis://" in output and "dbcache://" in output
    assert "Booting worker" not in output


def test_one_worker_on_the_default_cache_starts(tmp_path: Path) -> None:
    process, port = _gunicorn(tmp_path, 1)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "gunicorn stopped"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "no answer from /healthz"
                time.sleep(0.2)
    finally:
        process.terminate()
        process.communicate(timeout=30)
