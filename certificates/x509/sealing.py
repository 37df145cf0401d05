"""Secrets sealed at rest with Fernet under a list of keys, newest first (keys come in as parameters)."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SealError(ValueError):
    """A token that none of the keys opens (a wrong key, or corrupted data)."""


def new_sealing_key() -> str:
    return Fernet.generate_key().decode()


def is_sealing_key(key: str) -> bool:
    """Whether `key` is a Fernet key: 32 url-safe base64-encoded bytes."""
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        return False
    return True


# Per process and keyed by the configured keys: each key is parsed once.
@lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    fernets = [Fernet(k.encode()) for k in keys]
    return MultiFernet(fernets), fernets[0]


def seal(keys: tuple[str, ...], plaintext: str) -> str:
    """`plaintext` sealed under the newest key."""
    return _fernets(keys)[0].encrypt(plaintext.encode()).decode()


def unseal(keys: tuple[str, ...], token: str) -> str:
    try:
        return _fernets(keys)[0].decrypt(token.encode()).decode()
    except InvalidToken:
        raise SealError("wrong encryption key or corrupted data") from None


def sealed_by_newest(keys: tuple[str, ...], token: str) -> bool:
    try:
        _fernets(keys)[1].decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def reseal(keys: tuple[str, ...], token: str) -> str:
    """`token` sealed again under the newest key."""
    try:
        return _fernets(keys)[0].rotate(token.encode()).decode()
    except InvalidToken:
        raise SealError("wrong encryption key or corrupted data") from None
