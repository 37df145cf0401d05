"""Replay nonces (RFC 8555 §6.5), single-use across every server process: kept in the shared cache
(CACHE_URL), and a nonce counts only for the request that deletes it first."""

from __future__ import annotations

import secrets

from django.core.cache import cache

NONCE_SECONDS = 3600


def _key(nonce: str) -> str:
    return f"acme:nonce:{nonce}"


def new_nonce() -> str:
    nonce = secrets.token_urlsafe(16)
    cache.set(_key(nonce), 1, NONCE_SECONDS)
    return nonce


def consume(nonce: str) -> bool:
    """Whether `nonce` was issued and not used yet; it is used from now on."""
    return bool(nonce) and len(nonce) <= 64 and cache.delete(_key(nonce))
