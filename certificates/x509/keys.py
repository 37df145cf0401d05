"""Key specifications, key generation and PEM (de)serialisation of private keys."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, TypeAlias

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .errors import InvalidKeySpec, InvalidPEM

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
Algorithm: TypeAlias = Literal["rsa", "ecdsa", "ed25519"]

ALGORITHMS: tuple[Algorithm, ...] = ("rsa", "ecdsa", "ed25519")
RSA_SIZES = (2048, 3072, 4096)
EC_SIZES = (256, 384, 521)
DEFAULT_EC_SIZE = 256

_CURVES: dict[int, type[ec.EllipticCurve]] = {
    256: ec.SECP256R1,
    384: ec.SECP384R1,
    521: ec.SECP521R1,
}
_CURVE_SIZES = {"secp256r1": 256, "secp384r1": 384, "secp521r1": 521}


@dataclass(frozen=True)
class KeySpec:
    """What key to make: RSA modulus bits, the ECDSA curve size, or Ed25519 (size None)."""

    algorithm: Algorithm
    size: int | None

    def __str__(self) -> str:
        return self.algorithm if self.size is None else f"{self.algorithm}-{self.size}"


def parse_key_spec(algorithm: str | None, size: int | None, default_rsa_size: int) -> KeySpec:
    """Validate a requested key algorithm and size.

    `algorithm` defaults to RSA and `size` to `default_rsa_size` (RSA) or 256 (ECDSA, where the
    size names the curve: P-256, P-384 or P-521). Ed25519 has a single size, so `size` is ignored.
    """
    name = (algorithm or "rsa").strip().lower()
    if name not in ALGORITHMS:
        raise InvalidKeySpec(
            f"Unsupported key algorithm {algorithm!r}; allowed: {', '.join(ALGORITHMS)}.",
            field="key_algorithm",
        )
    if name == "ed25519":
        return KeySpec("ed25519", None)
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
        raise InvalidKeySpec(f"Key size must be an integer, not {size!r}.")
    if name == "ecdsa":
        curve = DEFAULT_EC_SIZE if size is None else size
        if curve not in EC_SIZES:
            raise InvalidKeySpec(
                f"Unsupported ECDSA key size {curve}; allowed curves: "
                f"{', '.join(map(str, EC_SIZES))} (P-256, P-384, P-521)."
            )
        return KeySpec("ecdsa", curve)
    bits = default_rsa_size if size is None else size
    if bits not in RSA_SIZES:
        raise InvalidKeySpec(f"Unsupported RSA key size {bits}; allowed: {', '.join(map(str, RSA_SIZES))}.")
    return KeySpec("rsa", bits)


def generate_private_key(spec: KeySpec) -> PrivateKey:
    if spec.algorithm == "rsa":
        assert spec.size is not None
        return rsa.generate_private_key(public_exponent=65537, key_size=spec.size)
    if spec.algorithm == "ecdsa":
        assert spec.size is not None
        return ec.generate_private_key(_CURVES[spec.size]())
    return ed25519.Ed25519PrivateKey.generate()


def private_key_to_pem(key: PrivateKey, password: bytes | None = None) -> str:
    """PKCS#8 PEM, encrypted with the best available scheme when a password is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode("ascii")


def load_private_key_pem(
    pem: str | bytes,
    *,
    password: bytes | None = None,
    unsafe_skip_rsa_key_validation: bool = False,
) -> PrivateKey:
    """Load a PEM private key.

    `unsafe_skip_rsa_key_validation` skips cryptography's costly RSA consistency check; only pass
    it for keys this server generated and stored itself.
    """
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(
            data,
            password=password,
            unsafe_skip_rsa_key_validation=unsafe_skip_rsa_key_validation,
        )
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidPEM(f"Not a usable PEM private key: {exc}", field="private_key") from exc
    if not isinstance(key, PrivateKey):
        raise InvalidKeySpec(
            f"Unsupported private key type {type(key).__name__}; allowed: RSA, ECDSA, Ed25519.",
            field="private_key",
        )
    return key


def public_key_fingerprint(key: PrivateKey | PublicKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, as lowercase hex."""
    public = _public(key)
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def key_spec_of(key: object) -> KeySpec:
    """The KeySpec of a private or public key; InvalidKeySpec for keys this server does not use."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if key.key_size < RSA_SIZES[0]:
            raise InvalidKeySpec(f"RSA keys must have at least {RSA_SIZES[0]} bits, this one has {key.key_size}.")
        return KeySpec("rsa", key.key_size)
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        size = _CURVE_SIZES.get(key.curve.name)
        if size is None:
            raise InvalidKeySpec(f"Unsupported elliptic curve {key.curve.name}; allowed: P-256, P-384, P-521.")
        return KeySpec("ecdsa", size)
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return KeySpec("ed25519", None)
    raise InvalidKeySpec(
        f"Unsupported key type {type(key).__name__}; allowed: RSA, ECDSA, Ed25519.",
        field="key_algorithm",
    )


def key_size_of(public_key: PrivateKey | PublicKey) -> int:
    """RSA modulus bits, EC curve bits, or 256 for Ed25519."""
    spec = key_spec_of(public_key)
    return 256 if spec.size is None else spec.size


def signature_hash_for(
    key: PrivateKey | PublicKey,
) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None:
    """The hash to sign with this key: matched to the curve for ECDSA, None for Ed25519."""
    spec = key_spec_of(key)
    if spec.algorithm == "ed25519":
        return None
    if spec.algorithm == "ecdsa" and spec.size == 384:
        return hashes.SHA384()
    if spec.algorithm == "ecdsa" and spec.size == 521:
        return hashes.SHA512()
    return hashes.SHA256()


def _public(key: PrivateKey | PublicKey) -> PublicKey:
    if isinstance(key, PrivateKey):
        return key.public_key()
    return key
