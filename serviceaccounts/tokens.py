"""The service-account token format: `pkisa_<public_id>_<secret>`, minted, parsed and hashed.

`public_id` (16 hex characters) finds the row with one indexed query; `secret` carries 256
bits from `secrets` and is kept only as its SHA-256, which is enough for a random secret of
that size (a slow password hash would only slow down every API call).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "pkisa_"
PUBLIC_ID_BYTES = 8
SECRET_BYTES = 32  # 256 bits
_TOKEN_RE = re.compile(rf"{PREFIX}([0-9a-f]{{{2 * PUBLIC_ID_BYTES}}})_([A-Za-z0-9_-]{{43}})", re.ASCII)


@dataclass(frozen=True)
class MintedToken:
    public_id: str
    secret: str

    @property
    def plaintext(self) -> str:
        return f"{PREFIX}{self.public_id}_{self.secret}"


def mint() -> MintedToken:
    return MintedToken(public_id=secrets.token_hex(PUBLIC_ID_BYTES), secret=secrets.token_urlsafe(SECRET_BYTES))


def looks_like_token(raw: str) -> bool:
    """Whether a bearer credential claims to be ours (JWTs never start with the prefix)."""
    return raw.startswith(PREFIX)


def parse(raw: str) -> tuple[str, str] | None:
    """(public_id, secret) of a well-formed token, else None."""
    match = _TOKEN_RE.fullmatch(raw)
    return (match.group(1), match.group(2)) if match else None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
