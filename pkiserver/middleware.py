"""A lost database answers `503` JSON everywhere, not only in the DRF views (public PKI routes, admin)."""

from __future__ import annotations

import logging
from collections.abc import Callable

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
