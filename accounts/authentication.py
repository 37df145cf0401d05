"""Bearer-JWT authentication: a valid signature is not enough, the session must be alive."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import AuthSession, User
from accounts.tokens import claimed_sid


class BearerAuthentication(JWTAuthentication):
    www_authenticate_realm = "api"

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"

    # simplejwt annotates the user of both methods with a TypeVar bound by neither, which no
    # concrete user type can override.
    def authenticate(self, request: Request) -> tuple[User, AccessToken] | None:  # type: ignore[override]
        header = self.get_header(request)
        if header is None:
            return None
        raw = self.get_raw_token(header)
        if raw is None:
            raise exceptions.AuthenticationFailed("Invalid authorization header", code="bad_authorization_header")
        try:
            token = AccessToken(raw)  # type: ignore[arg-type]  # simplejwt annotates the raw token as a Token
        except TokenError as exc:
            raise InvalidToken(f"Could not validate credentials: {exc}") from None
        return self.get_user(token), token

    def get_user(self, validated_token: Any) -> User:  # type: ignore[override]
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


def _session_user(sid: uuid.UUID) -> User | None:
    """The user of the open session `sid` (one query on the unique sid index)."""
    session = AuthSession.objects.select_related("user").filter(sid=sid, revoked_at__isnull=True).first()
    return None if session is None else session.user


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes the bearer login in the OpenAPI schema (Swagger UI's Authorize button)."""

    target_class = BearerAuthentication
    match_subclasses = True
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
