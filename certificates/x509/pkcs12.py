"""PKCS#12 bundles of a key, its certificate and the chain."""

from __future__ import annotations

from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from .keys import PrivateKey

KDF_ROUNDS = 50_000


def to_pkcs12(
    *,
    name: str | None,
    key: PrivateKey,
    cert: x509.Certificate,
    chain: Iterable[x509.Certificate],
    password: bytes | None,
) -> bytes:
    """A PKCS#12 file; encrypted with PBES2 (AES-256-CBC, SHA-256) unless the password is empty."""
    encryption: serialization.KeySerializationEncryption
    if password:
        encryption = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(KDF_ROUNDS)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
            .build(password)
        )
    else:
        encryption = serialization.NoEncryption()
    return pkcs12.serialize_key_and_certificates(
        name.encode("utf-8") if name else None, key, cert, list(chain) or None, encryption
    )
