"""Private keys at rest: Fernet tokens under `PRIVATE_KEY_ENCRYPTION_KEY` (newest key first).

Decrypted CA keys are cached per process, keyed by the stored token, so a signing request
does not pay for decryption and PEM parsing every time (SPEC §11, and the performance work).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from certificates.x509 import sealing
from certificates.x509.keys import load_private_key_pem

logger = logging.getLogger(__name__)

PEM_PREFIX = "-----BEGIN"


class KeyDecryptionError(ImproperlyConfigured):
    """A stored key cannot be decrypted with any configured key."""


def _keys() -> tuple[str, ...]:
    return tuple(settings.PRIVATE_KEY_ENCRYPTION_KEYS)


def is_plaintext(stored: str) -> bool:
    return stored.lstrip().startswith(PEM_PREFIX)


def encrypt(pem: str) -> str:
    return sealing.seal(_keys(), pem)


def decrypt(stored: str) -> str:
    if is_plaintext(stored):
        return stored
    try:
        return sealing.unseal(_keys(), stored)
    except sealing.SealError as exc:
        raise KeyDecryptionError(str(exc)) from None


def is_current(stored: str) -> bool:
    """Encrypted under the newest configured key."""
    return not is_plaintext(stored) and sealing.sealed_by_newest(_keys(), stored)


def rotate(stored: str) -> str:
    """Re-encrypt under the newest key (plaintext is simply encrypted)."""
    if is_plaintext(stored):
        return encrypt(stored)
    try:
        return sealing.reseal(_keys(), stored)
    except sealing.SealError as exc:
        raise KeyDecryptionError(str(exc)) from None


# Per process and keyed by the immutable stored token: a key is decrypted once, not shared state.
@lru_cache(maxsize=256)
def _load_cached(stored: str) -> Any:
    # Keys come from our own database and Fernet authenticated them, so the costly RSA
    # consistency check adds nothing.
    return load_private_key_pem(decrypt(stored), unsafe_skip_rsa_key_validation=True)


def load_key(stored: str) -> Any:
    """The private key object behind a stored value (cached per process)."""
    return _load_cached(stored)


def _models() -> Iterator[tuple[Any, str]]:
    from certificates.models import Certificate, CertificateAuthority

    yield CertificateAuthority, "CA"
    yield Certificate, "certificate"


def encrypt_plaintext_keys() -> int:
    """Encrypt any plaintext keys found in the database (compare-and-swap per row)."""
    count = 0
    for model, _label in _models():
        # Match anywhere, not only at the start: a PEM pasted with leading whitespace is still
        # plaintext to decrypt(). A space never occurs in a Fernet token.
        rows = model.objects.filter(private_key__contains=" KEY-----").values_list("pk", "private_key")
        for pk, stored in rows.iterator():
            if is_plaintext(stored):
                count += model.objects.filter(pk=pk, private_key=stored).update(private_key=encrypt(stored))
    if count:
        logger.warning("Encrypted %d plaintext private key(s) found in the database", count)
    return count


def verify_keys(sample: int = 100) -> None:
    """Refuse to start when stored keys cannot be decrypted: every CA and the newest certificates."""
    from certificates.models import Certificate, CertificateAuthority

    checks = [
        (CertificateAuthority.objects.order_by("pk"), "CA"),
        (Certificate.objects.exclude(private_key=None).order_by("-pk")[:sample], "certificate"),
    ]
    for queryset, label in checks:
        for pk, name, stored in queryset.values_list("pk", "name" if label == "CA" else "common_name", "private_key"):
            try:
                decrypt(stored)
            except KeyDecryptionError:
                raise KeyDecryptionError(
                    f"Cannot decrypt the private key of {label} '{name}' (id={pk}): "
                    "PRIVATE_KEY_ENCRYPTION_KEY is wrong or has changed. "
                    "List the old key after the new one to read and rotate existing keys."
                ) from None


def startup() -> None:
    """Run at process start: encrypt plaintext keys, then verify the configured key reads the rest."""
    from django.db import connection

    tables = set(connection.introspection.table_names())
    if "certificates_certificateauthority" not in tables:
        return  # not migrated yet
    encrypt_plaintext_keys()
    verify_keys()
