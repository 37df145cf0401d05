"""pytest plugin: no answer outside the private-key routes carries `PRIVATE KEY`, in the whole suite.

Every response made in the test process (Django's and DRF's test clients, direct WSGI calls such
as schemathesis', live_server threads) is checked as it is made; the separate gunicorn processes
of tests/reliability are not. A test during which an answer leaked fails, naming the request,
so the offender is found under pytest-xdist too.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.handlers.base import BaseHandler

MARKER = b"PRIVATE KEY"

# (method, path) where a private key is the point of the answer.
PRIVATE_KEY_ROUTES = [
    ("POST", re.compile(r"/api/v1/(cas|certificates)/?")),  # create: the new key, shown once
    ("POST", re.compile(r"/api/v1/certificates/[0-9]+/renew/?")),  # a renewal's fresh key, shown once
    ("GET", re.compile(r"/api/v1/(cas|certificates)/[0-9]+/private-key/?")),
    ("GET", re.compile(r"/api/v1/export/(ca|certificate)/[0-9]+/private-key/?")),
    ("GET", re.compile(r"/api/v1/export/certificate/[0-9]+/pkcs12/?")),
    ("POST", re.compile(r"/api/v1/export/certificate/[0-9]+/pkcs12/?")),
    ("POST", re.compile(r"/admin/certificates/certificate/[0-9]+/private-key/")),  # the console's audited download
]

counts = {"checked": 0, "key_routes": 0}
leaks: list[str] = []
figures: list[str] = []  # other lines for the end of the run (e.g. schemathesis' counts)


def is_private_key_route(method: str, path: str) -> bool:
    return any(method == m and pattern.fullmatch(path) for m, pattern in PRIVATE_KEY_ROUTES)


def inspect(request: Any, response: Any) -> None:
    """Record `response` as a leak when it carries a key outside the private-key routes."""
    if getattr(response, "streaming", False):
        return
    counts["checked"] += 1
    if is_private_key_route(request.method, request.path_info):
        counts["key_routes"] += 1
    elif MARKER in response.content:
        leaks.append(f"{request.method} {request.get_full_path()} -> {response.status_code}")


def _watching(get_response: Any) -> Any:
    def get_response_watched(self: BaseHandler, request: Any) -> Any:
        response = get_response(self, request)
        inspect(request, response)
        return response

    get_response_watched.__wrapped__ = get_response  # type: ignore[attr-defined]
    return get_response_watched


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(BaseHandler.get_response, "__wrapped__"):
        BaseHandler.get_response = _watching(BaseHandler.get_response)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    if leaks:
        found = ", ".join(leaks)
        leaks.clear()
        report.outcome = "failed"
        report.longrepr = f"An answer outside the private-key routes carried a private key: {found}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if counts["checked"]:
        terminalreporter.write_line(
            f"private-key watch: {counts['checked']} answers checked, "
            f"{counts['key_routes']} of them on private-key routes"
        )
    for line in figures:
        terminalreporter.write_line(line)
