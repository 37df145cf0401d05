"""One exception handler: every error becomes `{"detail", "code"}` (plus `errors` per field)."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.views.csrf import csrf_failure as django_csrf_failure
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from certificates.x509.errors import X509Error
from pkiserver.errors import DomainError, Invalid
from pkiserver.middleware import CONSOLE_PREFIX


def _flatten(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error dict as `{"field.sub": ["message", ...]}`."""
    out: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, name))
    elif isinstance(errors, list) and errors and all(not isinstance(e, (dict, list)) for e in errors):
        out[prefix or "non_field_errors"] = [str(e) for e in errors]
    elif isinstance(errors, list):
        for index, value in enumerate(errors):
            out.update(_flatten(value, f"{prefix}[{index}]"))
    else:
        out[prefix or "non_field_errors"] = [str(errors)]
    return out


def _validation_detail(fields: dict[str, list[str]]) -> str:
    parts = []
    for name, messages in fields.items():
        label = "" if name == "non_field_errors" else f"{name}: "
        parts.append(label + " ".join(messages))
    return "; ".join(parts) or "Invalid input."


# PostgreSQL's deadlock_detected and serialization_failure: the database is fine, the
# transaction lost a race and was rolled back whole.
TRANSIENT_SQLSTATES = {"40P01", "40001"}


def _is_transient_conflict(exc: Exception) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) in TRANSIENT_SQLSTATES


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = _handle(exc, context)
    if response is not None and isinstance(response.data, dict):
        response.data = _writable(response.data)
    return response


_UNWRITABLE = re.compile("[\ud800-\udfff]")


def _writable(data: Any) -> Any:
    """An error that echoes input may hold a lone surrogate, which no JSON encoder writes as UTF-8."""
    if isinstance(data, str):
        return _UNWRITABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", data)
    if isinstance(data, dict):
        return {_writable(key): _writable(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_writable(item) for item in data]
    return data


def _handle(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, X509Error):  # bad input the service did not translate: still the caller's, not a 500
        exc = Invalid(exc.message, field=exc.field, code=exc.code)
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"detail": exc.detail, "code": exc.code}
        if exc.field:
            body["errors"] = {exc.field: [exc.detail]}
        return Response(body, status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):  # a multipart login form past DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            _too_large_body(settings.DATA_UPLOAD_MAX_MEMORY_SIZE), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, OperationalError) and _is_transient_conflict(exc):
        return Response(
            {"detail": "The request collided with a concurrent change; retry it.", "code": "concurrent_update"},
            status=status.HTTP_409_CONFLICT,
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, (OperationalError, InterfaceError)) and not isinstance(exc, IntegrityError):
        return Response(
            {"detail": "The database is unavailable; try again shortly.", "code": "service_unavailable"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.PermissionDenied) and str(exc.detail) == str(
        exceptions.PermissionDenied.default_detail
    ):
        exc = exceptions.PermissionDenied("Not enough permissions")
    response = drf_exception_handler(exc, context)
    if response is None:
        if isinstance(exc, DatabaseError):
            raise exc
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        response.data = {"detail": _validation_detail(fields), "code": "invalid", "errors": fields}
    elif isinstance(exc, exceptions.APIException):
        detail: Any = exc.detail
        codes = exc.get_codes()
        if isinstance(detail, dict) and "detail" in detail:  # simplejwt nests {"detail", "code", ...}
            detail, codes = detail["detail"], str(detail.get("code", "error"))
        response.data = {"detail": str(detail), "code": codes if isinstance(codes, str) else "error"}
    elif isinstance(exc, Http404):
        response.data = {"detail": "Not found.", "code": "not_found"}
    return response


def json_error_view(status_code: int, detail: str, code: str):
    def view(request: Any, exception: Exception | None = None) -> JsonResponse:
        return JsonResponse({"detail": detail, "code": code}, status=status_code)

    return view


def csrf_failure(request: Any, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: only the console has session cookies to protect; it keeps Django's page."""
    if request.path_info.startswith(CONSOLE_PREFIX):
        return django_csrf_failure(request, reason)
    return JsonResponse({"detail": f"CSRF verification failed: {reason}", "code": "csrf_failed"}, status=403)


def request_size_limit(get_response: Any) -> Any:
    """Middleware: an API request whose body is declared larger than DATA_UPLOAD_MAX_MEMORY_SIZE is
    refused (413, JSON) before any view runs. DRF's parsers read the request stream themselves, so
    Django's own check (made only when `request.body` is read) never guards the JSON API. OCSP
    keeps its own, smaller limit and answers in its own protocol; the admin's forms use Django's."""

    def middleware(request: Any) -> Any:
        if not request.path_info.startswith("/api/"):
            return get_response(request)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads such a body as empty
        if limit is not None and length > limit:
            return JsonResponse(_too_large_body(limit), status=413)
        return get_response(request)

    return middleware


def _too_large_body(limit: int | None) -> dict[str, str]:
    return {"detail": f"The request body is larger than {limit} bytes.", "code": "request_too_large"}


# --- OpenAPI: the error answers every operation can give (drf-spectacular post-processing hook) ---

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
    "required": ["detail", "code"],
}


def document_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Add the `{"detail", "code"}` error answers to every operation of the schema."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            errors = {
                "400": "Invalid input; `errors` names each field at fault.",
                "401": "No, expired, revoked or malformed credentials.",
                "403": "Not enough permissions.",
                "503": "The database is unavailable; retry after `Retry-After` seconds.",
            }
            if "{" in path or method == "post":
                errors["404"] = "No such object."
            if method != "get":
                errors["409"] = "The object's state forbids this change."
            if "requestBody" in operation:
                errors["413"] = "The request body is too large."
            if path.rstrip("/").endswith("/auth/token"):
                errors["429"] = "Too many login attempts; retry after `Retry-After` seconds."
            responses = operation.setdefault("responses", {})
            for code, description in errors.items():
                responses.setdefault(code, {"description": description, "content": body})
    return result
