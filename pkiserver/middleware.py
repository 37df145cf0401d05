"""Middleware of our own: a lost database answers `503` JSON everywhere (not only in the DRF
views), and the admin console's session middleware runs for the console only."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
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


class ConsoleSessionMiddleware(SessionMiddleware, AuthenticationMiddleware, MessageMiddleware):
    """Django's session, login and messages middleware, in that order, for the admin console only.

    The API authenticates every request by its bearer token and the public PKI routes (CRL, CA
    certificate, OCSP) need no one: neither reads a session, a session user or a message, so they
    skip all three (about 40 µs of CPU per request, an eighth of an OCSP answer). One class that
    is all three, so the admin's checks that they are installed still hold."""

    async_capable = False  # its __call__ is synchronous; under ASGI Django adapts it

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(CONSOLE_PREFIX):
            return self.get_response(request)
        SessionMiddleware.process_request(self, request)
        AuthenticationMiddleware.process_request(self, request)
        MessageMiddleware.process_request(self, request)
        response = self.get_response(request)
        response = MessageMiddleware.process_response(self, request, response)
        return SessionMiddleware.process_response(self, request, response)
