"""Key specs, generation, PEM round trips and the per-key signature hash."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519

from certificates.x509 import (
    InvalidKeySpec,
    InvalidPEM,
    KeySpec,
    generate_private_key,
    key_size_of,
    key_spec_of,
    load_private_key_pem,
    parse_key_spec,
    private_key_to_pem,
    public_key_fingerprint,
    signature_hash_for,
)

from .conftest import KeyPool


@pytest.mark.parametrize(
    ("algorithm", "size", "expected"),
    [
        (None, None, KeySpec("rsa", 4096)),
        ("rsa", None, KeySpec("rsa", 4096)),
        ("rsa", 2048, KeySpec("rsa", 2048)),
        ("RSA", 3072, KeySpec("rsa", 3072)),
        ("ecdsa", None, KeySpec("ecdsa", 256)),
        ("ecdsa", 384, KeySpec("ecdsa", 384)),
        ("ECDSA", 521, KeySpec("ecdsa", 521)),
        ("ed25519", None, KeySpec("ed25519", None)),
        ("ed25519", 4096, KeySpec("ed25519", None)),
    ],
)
def test_parse_key_spec_accepts(algorithm: str | None, size: int | None, expected: KeySpec) -> None:
    assert parse_key_spec(algorithm, size, default_rsa_size=4096) == expected


@pytest.mark.parametrize(
    ("algorithm", "size", "field", "allowed"),
    [
        ("rsa", 1024, "key_size", "2048, 3072, 4096"),
        ("rsa", 4095, "key_size", "2048, 3072, 4096"),
        (None, 8192, "key_size", "2048, 3072, 4096"),
        ("ecdsa", 2048, "key_size", "256, 384, 521"),
        ("ecdsa", 224, "key_size", "256, 384, 521"),
        ("dsa", None, "key_algorithm", "rsa, ecdsa, ed25519"),
        ("ec", 256, "key_algorithm", "rsa, ecdsa, ed25519"),
        ("rsa", True, "key_size", "integer"),
    ],
)
def test_parse_key_spec_refuses(algorithm: str | None, size: int | None, field: str, allowed: str) -> None:
    with pytest.raises(InvalidKeySpec) as info:
        parse_key_spec(algorithm, size, default_rsa_size=2048)
    assert info.value.field == field
    assert allowed in info.value.message


def test_parse_key_spec_refuses_a_bad_default() -> None:
    with pytest.raises(InvalidKeySpec, match="1024"):
        parse_key_spec(None, None, default_rsa_size=1024)


@pytest.mark.parametrize(
    ("spec", "size", "hash_name"),
    [
        (KeySpec("ecdsa", 256), 256, "sha256"),
        (KeySpec("ecdsa", 384), 384, "sha384"),
        (KeySpec("ecdsa", 521), 521, "sha512"),
        (KeySpec("ed25519", None), 256, None),
    ],
)
def test_generated_keys_report_their_spec(spec: KeySpec, size: int, hash_name: str | None) -> None:
    key = generate_private_key(spec)
    assert key_spec_of(key) == spec
    assert key_spec_of(key.public_key()) == spec
    assert key_size_of(key.public_key()) == size
    algorithm = signature_hash_for(key)
    assert (algorithm.name if algorithm else None) == hash_name


def test_rsa_key_spec_and_hash(keys: KeyPool) -> None:
    key = keys.get("rsa", "rsa")
    assert key_spec_of(key) == KeySpec("rsa", 2048)
    assert key_size_of(key.public_key()) == 2048
    assert isinstance(signature_hash_for(key), hashes.SHA256)


@pytest.mark.parametrize(
    "make",
    [
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),
        lambda: ec.generate_private_key(ec.SECP224R1()),
        lambda: ec.generate_private_key(ec.SECP256K1()),
        lambda: x25519.X25519PrivateKey.generate(),
    ],
    ids=["rsa-1024", "p-224", "secp256k1", "x25519"],
)
def test_key_spec_of_refuses_keys_we_do_not_use(make: object) -> None:
    with pytest.raises(InvalidKeySpec):
        key_spec_of(make())  # type: ignore[operator]


@pytest.mark.parametrize("algorithm", ["rsa", "ecdsa", "ed25519"])
def test_pem_round_trip(keys: KeyPool, algorithm: str) -> None:
    key = keys.get("pem", algorithm)
    pem = private_key_to_pem(key)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    loaded = load_private_key_pem(pem, unsafe_skip_rsa_key_validation=True)
    assert public_key_fingerprint(loaded) == public_key_fingerprint(key)


def test_encrypted_pem_round_trip(keys: KeyPool) -> None:
    key = keys.get("pem")
    pem = private_key_to_pem(key, password=b"s3cret")
    assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert load_private_key_pem(pem, password=b"s3cret").public_key() == key.public_key()
    with pytest.raises(InvalidPEM):
        load_private_key_pem(pem, password=b"wrong")


@pytest.mark.parametrize("pem", ["", "garbage", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"])
def test_load_private_key_pem_refuses_garbage(pem: str) -> None:
    with pytest.raises(InvalidPEM) as info:
        load_private_key_pem(pem)
    assert info.value.field == "private_key"


def test_fingerprint_is_sha256_of_the_public_key_info(keys: KeyPool) -> None:
    key = keys.get("root")
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert public_key_fingerprint(key) == hashlib.sha256(der).hexdigest()
    assert public_key_fingerprint(key.public_key()) == public_key_fingerprint(key)
