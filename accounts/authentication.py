"""Bearer-JWT authentication: a valid signature is not enough, the session must be alive."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import Any

from django.db import connection
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken
from rest_framework_simplejwt.utils import aware_utcnow

from accounts.models import AuthSession, User
from accounts.tokens import claimed_sid
from pkiserver.db.rows import Rows


class BearerAuthentication(JWTAuthentication):
    www_authenticate_realm = "api"

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"

    def authenticate(self, request: Request) -> tuple[User, AccessToken] | None:
        header = self.get_header(request)
        if header is None:
            return None
        raw = self.get_raw_token(header)
        if raw is None:
            raise exceptions.AuthenticationFailed("Invalid authorization header", code="bad_authorization_header")
        try:
            token = _access_token(raw)
        except TokenError as exc:
            raise InvalidToken(f"Could not validate credentials: {exc}") from None
        return self.get_user(token), token

    def get_user(self, validated_token: Any) -> User:
        sid, user_id = claimed_sid(validated_token), validated_token.get("id")
        if not sid or user_id is None:
            raise InvalidToken("Could not validate credentials: token has no session")
        user = _session_user(sid)
        if user is None or user.pk != user_id:
            raise InvalidToken("Could not validate credentials: session is closed")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User is inactive", code="user_inactive")
        user.auth_session_sid = sid
        return user


# Access tokens whose signature and claims were checked, per process: a client sends the same
# token with every request of its 15-minute life. Expiry is checked again on every use (an expired
# one is decoded afresh, for the usual error); the session, on every request, by get_user.
VERIFIED_TOKENS = 4096
_verified: OrderedDict[tuple[bytes, Any, Any], AccessToken] = OrderedDict()
_verified_lock = threading.Lock()


def _access_token(raw: bytes) -> AccessToken:
    key = (raw, jwt_settings.SIGNING_KEY, jwt_settings.ALGORITHM)  # a new key or algorithm: decode again
    with _verified_lock:
        token = _verified.get(key)
    if token is not None:
        try:
            token.check_exp(current_time=aware_utcnow())
            return token
        except TokenError:
            pass
    token = AccessToken(raw)
    with _verified_lock:
        _verified[key] = token
        _verified.move_to_end(key)
        if len(_verified) > VERIFIED_TOKENS:
            _verified.popitem(last=False)
    return token


_users = Rows(User, alias="u")
_SESSION_USER_SQL = (
    f"SELECT {_users.columns} FROM {_users.table} u "  # noqa: S608 - model names
    f"JOIN {connection.ops.quote_name(AuthSession._meta.db_table)} s ON s.user_id = u.id "
    "WHERE s.sid = %s AND s.revoked_at IS NULL"
)


def _session_user(sid: uuid.UUID) -> User | None:
    """The user of the open session `sid`: one query on the unique sid index. Written by hand
    because it runs on every authenticated request, and compiling the ORM's join costs more
    than the lookup itself."""
    return _users.one(_SESSION_USER_SQL, [AuthSession._meta.get_field("sid").get_db_prep_value(sid, connection)])


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes the bearer login in the OpenAPI schema (Swagger UI's Authorize button)."""

    target_class = BearerAuthentication
    match_subclasses = True
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
