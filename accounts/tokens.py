"""Login sessions and their JWT pairs: issue, rotate (with reuse detection) and revoke.

A session is one refresh-token family. Access tokens carry the session id (`sid`), so revoking
the session stops its access tokens at once. Only a SHA-256 of the live refresh token's `jti`
is stored, never the token.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone as dj_timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken, Token

from accounts.models import AuthSession, User
from pkiserver.errors import DomainError


class TokenRejected(DomainError):
    status_code = 401
    default_code = "token_not_valid"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str = "bearer"


def _jti_hash(jti: str) -> str:
    return hashlib.sha256(jti.encode()).hexdigest()


def _build_pair(user: User, sid: uuid.UUID) -> tuple[RefreshToken, TokenPair]:
    refresh = RefreshToken()
    refresh["id"] = user.pk
    refresh["sub"] = user.username
    refresh["role"] = user.role
    refresh["sid"] = str(sid)
    access = refresh.access_token  # copies the identity claims, with its own jti/exp/iat
    return refresh, TokenPair(access_token=str(access), refresh_token=str(refresh))


def claimed_sid(token: Token) -> uuid.UUID | None:
    """The token's `sid` claim as a UUID; None when missing or not a UUID (never a 400 or 500)."""
    try:
        return uuid.UUID(str(token.get("sid")))
    except ValueError:
        return None


def _expiry(token: RefreshToken) -> datetime:
    return datetime.fromtimestamp(token["exp"], tz=UTC)


def session_start(*, user: User) -> TokenPair:
    sid = uuid.uuid4()
    refresh, pair = _build_pair(user, sid)
    AuthSession.objects.create(
        sid=sid, user=user, refresh_jti_hash=_jti_hash(refresh["jti"]), refresh_expires_at=_expiry(refresh)
    )
    return pair


def session_refresh(*, raw_refresh_token: str) -> TokenPair:
    """Trade a refresh token for a new pair. A rotated token presented again kills its family."""
    try:
        presented = RefreshToken(raw_refresh_token)  # type: ignore[arg-type]  # simplejwt annotates it as a Token
    except TokenError as exc:
        raise TokenRejected(f"Invalid refresh token: {exc}") from None
    sid, jti = claimed_sid(presented), presented.get("jti")
    if not sid or not jti:
        raise TokenRejected("Invalid refresh token: missing claims")
    with transaction.atomic():
        session = AuthSession.objects.select_related("user").filter(sid=sid).first()
        if session is None or session.revoked_at is not None:
            raise TokenRejected("Refresh token has been revoked")
        user = session.user
        if not user.is_active:
            raise TokenRejected("User is inactive")
        refresh, pair = _build_pair(user, session.sid)
        # Compare-and-swap: of two requests with the same token, exactly one wins.
        won = AuthSession.objects.filter(
            pk=session.pk, revoked_at__isnull=True, refresh_jti_hash=_jti_hash(jti)
        ).update(
            refresh_jti_hash=_jti_hash(refresh["jti"]),
            refresh_expires_at=_expiry(refresh),
            rotated_at=dj_timezone.now(),
        )
    if not won:
        # The token was valid once but has been rotated: someone replays it. Kill the family.
        AuthSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
            revoked_at=dj_timezone.now(), revoked_reason="reuse"
        )
        raise TokenRejected("Refresh token has already been used; this session is now closed")
    return pair


def session_revoke(*, sid: str | uuid.UUID, reason: str = "logout") -> None:
    AuthSession.objects.filter(sid=sid, revoked_at__isnull=True).update(
        revoked_at=dj_timezone.now(), revoked_reason=reason
    )


def sessions_revoke_all(*, user: User, reason: str) -> int:
    """End every session of `user`: API refresh families (and so their access tokens) and console
    sessions, whose hash includes `session_epoch`. Returns the number of API sessions ended."""
    User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
    user.refresh_from_db(fields=["session_epoch"])  # a caller keeping its own console session re-hashes with it
    return AuthSession.objects.filter(Q(user=user) & Q(revoked_at__isnull=True)).update(
        revoked_at=dj_timezone.now(), revoked_reason=reason
    )
