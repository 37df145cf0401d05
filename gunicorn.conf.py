"""gunicorn's settings for pkiserver, read from the working directory (`gunicorn pkiserver.wsgi`
run from the repository) or named with `-c gunicorn.conf.py`. Command-line options override them."""

from __future__ import annotations

import json
import os
import socket
from typing import Any

import gunicorn.util

# Request lines up to 8 KiB, CRLF included, reach the application (SPEC §1): 8190 is gunicorn's
# largest finite limit (0 would mean unbounded), and pkiserver.middleware.MAX_REQUEST_LINE matches.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's answer to what it refuses before the application sees it (a longer request line,
    malformed headers), as JSON instead of its HTML page: it has no setting for that page
    (benoitc/gunicorn#993), so the one function that writes it is replaced, same status and headers."""
    body = json.dumps({"detail": mesg or reason, "code": reason.lower().replace(" ", "_")}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    gunicorn.util.write_nonblock(sock, head.encode("latin-1") + body)


gunicorn.util.write_error = write_json_error


def on_starting(server: Any) -> None:
    """Several workers must share one cache (login and registration throttles count in it): refuse
    to start them on the per-process default."""
    if server.cfg.workers <= 1:
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pkiserver.settings")
    from django.conf import settings

    if settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache":
        raise SystemExit(
            f"pkiserver: {server.cfg.workers} workers need a shared cache, and CACHE_URL is per process."
            " Set CACHE_URL to Redis (redis://host:6379/0) or to the database cache (dbcache://pkiserver_cache),"
            " or run one worker."
        )
