"""Middleware of our own: a lost database answers `503` JSON everywhere (not only in the DRF
views), and every other error outside the console is JSON too."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger("pkiserver")

UNAVAILABLE = {"detail": "The database is unavailable; try again shortly.", "code": "service_unavailable"}


def database_unavailable() -> JsonResponse:
    response = JsonResponse(UNAVAILABLE, status=503)
    response["Retry-After"] = "5"
    return response


class DatabaseUnavailableMiddleware:
    """Turns a connection failure raised by a view into `503` with a JSON `detail`, never a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, (OperationalError, InterfaceError)):
            logger.warning("database unavailable on %s %s: %s", request.method, request.path, exception)
            return database_unavailable()
        return None


CONSOLE_PREFIX = "/admin/"  # where pkiserver.urls mounts the admin console

# The longest request line answered (8 KiB with its CRLF); gunicorn.conf.py sets the same limit.
MAX_REQUEST_LINE = 8190


def json_error(status: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)


class JSONErrorMiddleware:
    """Outside the admin console an error is always JSON (SPEC §1).

    Refuses what Django would misread: a chunked body without a length (Django reads it as empty,
    so a create would answer "field required") is `411`, and a request line past
    MAX_REQUEST_LINE is `414`. Then any error page Django or a plain view made in HTML (a `405`
    from `require_safe`, a CSRF refusal, ...) is answered as `{"detail", "code"}`, headers kept."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        if "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower() and not meta.get("CONTENT_LENGTH"):
            return json_error(
                411, "A request body needs a Content-Length; chunked bodies are not read.", "length_required"
            )
        if _request_line_length(request) > MAX_REQUEST_LINE:
            return json_error(414, f"The request line is longer than {MAX_REQUEST_LINE} bytes.", "uri_too_long")
        response = self.get_response(request)
        if response.status_code < 400 or "json" in response.get("Content-Type", ""):
            return response
        if request.path_info.startswith(CONSOLE_PREFIX):
            return response
        return _as_json(request, response)


def _request_line_length(request: HttpRequest) -> int:
    meta = request.META
    target_length = len(meta.get("PATH_INFO", "")) + len(meta.get("QUERY_STRING", ""))
    if target_length < MAX_REQUEST_LINE // 4:  # escaping at most triples it: surely short, skip the work
        return target_length
    target = meta.get("RAW_URI") or request.get_full_path()  # gunicorn gives the target as sent
    return len(request.method or "") + 1 + len(target) + 1 + len(meta.get("SERVER_PROTOCOL", "HTTP/1.1"))


def _as_json(request: HttpRequest, page: HttpResponse) -> JsonResponse:
    try:
        phrase = HTTPStatus(page.status_code).phrase
    except ValueError:
        phrase = "Error"
    if page.status_code == 405:
        detail = f'Method "{request.method}" not allowed.'
    else:
        detail = f"{phrase}."
    response = json_error(page.status_code, detail, phrase.lower().replace(" ", "_").replace("-", "_"))
    for header, value in page.items():
        if header.lower() not in {"content-type", "content-length"}:
            response[header] = value
    return response
