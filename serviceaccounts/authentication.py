"""Bearer authentication with service-account tokens; anything else is left to the JWT class."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from serviceaccounts import tokens
from serviceaccounts.models import ServiceAccount, ServiceAccountToken

# `last_used_at` is a hint for operators, not a log: at most one write per token per minute.
LAST_USED_RESOLUTION = timedelta(seconds=60)
_DUMMY_HASH = tokens.hash_secret("")


def _refuse(detail: str = "Could not validate credentials") -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(detail, code="token_not_valid")


class ServiceAccountTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer pkisa_...`. Other credentials (JWTs) get None, so the next class
    decides; a credential with our prefix is ours to accept or refuse (401)."""

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"

    def authenticate(self, request: Request) -> tuple[ServiceAccount, ServiceAccountToken] | None:
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            return None
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            return None
        if not tokens.looks_like_token(raw):
            return None
        parsed = tokens.parse(raw)
        if parsed is None:
            raise _refuse("Could not validate credentials: malformed service-account token")
        public_id, secret = parsed
        token = ServiceAccountToken.objects.select_related("service_account").filter(public_id=public_id).first()
        # Compare even for an unknown id, so both answers take the same time.
        if not tokens.secret_matches(secret, token.secret_hash if token else _DUMMY_HASH) or token is None:
            raise _refuse()
        now = timezone.now()
        if token.revoked:
            raise _refuse("Could not validate credentials: token revoked")
        if token.is_expired(now):
            raise _refuse("Could not validate credentials: token expired")
        account = token.service_account
        if not account.is_active:
            raise _refuse("Service account is disabled")
        self._touch(token, now)
        return account, token

    @staticmethod
    def _touch(token: ServiceAccountToken, now: Any) -> bool:
        """Record the use, at most once per LAST_USED_RESOLUTION, with a conditional UPDATE so
        that concurrent requests write at most once too. True when this call wrote."""
        stale = now - LAST_USED_RESOLUTION
        if token.last_used_at is not None and token.last_used_at >= stale:
            return False
        written = (
            ServiceAccountToken.objects.filter(pk=token.pk)
            .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale))
            .update(last_used_at=now)
        )
        token.last_used_at = now
        return bool(written)


class ServiceAccountTokenScheme(OpenApiAuthenticationExtension):
    """Describes service-account tokens in the OpenAPI schema."""

    target_class = ServiceAccountTokenAuthentication
    name = "serviceAccountToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A service-account token (`pkisa_...`), minted by POST /service-accounts/{id}/tokens.",
        }
