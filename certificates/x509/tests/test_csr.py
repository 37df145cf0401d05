"""CSR loading, signature checks, key checks and SAN extraction."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certificates.x509 import (
    InvalidCSR,
    build_csr,
    csr_public_key,
    csr_sans,
    csr_to_pem,
    load_csr,
    parse_subject,
    verify_csr_signature,
)

from .conftest import KeyPool
from .helpers import Issued


@pytest.mark.parametrize("algorithm", ["rsa", "ecdsa", "ed25519"])
def test_csr_round_trip(keys: KeyPool, algorithm: str) -> None:
    key = keys.get("csr", algorithm)
    pem = csr_to_pem(
        build_csr(
            key=key,
            subject=parse_subject("CN=alice,O=Acme"),
            dns=["a.example"],
            ips=["10.0.0.1", "::1"],
            emails=["alice@example.com"],
        )
    )
    csr = load_csr(pem)
    verify_csr_signature(csr)
    assert csr.subject == parse_subject("CN=alice,O=Acme")
    assert csr_public_key(csr) == key.public_key()
    assert csr_sans(csr) == (["a.example"], ["10.0.0.1", "::1"], ["alice@example.com"])


def test_csr_without_sans(keys: KeyPool) -> None:
    csr = load_csr(csr_to_pem(build_csr(key=keys.get("csr"), subject=parse_subject("CN=x"))).encode())
    assert csr_sans(csr) == ([], [], [])


@pytest.mark.parametrize(
    "pem",
    [
        "",
        "not a csr",
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        "-----BEGIN CERTIFICATE REQUEST-----\n" + "A" * 70_000 + "\n-----END CERTIFICATE REQUEST-----\n",
    ],
    ids=["empty", "text", "bad-base64-body", "too-long"],
)
def test_load_csr_refuses(pem: str) -> None:
    with pytest.raises(InvalidCSR) as info:
        load_csr(pem)
    assert info.value.field == "csr"


def test_load_csr_refuses_a_certificate(root: Issued) -> None:
    with pytest.raises(InvalidCSR, match="not a valid PEM"):
        load_csr(root.pem)


def tampered(csr: x509.CertificateSigningRequest) -> str:
    """The CSR with its subject changed after signing: well-formed, but the signature fails."""
    der = csr.public_bytes(serialization.Encoding.DER)
    assert der.count(b"alice") == 1
    body = base64.encodebytes(der.replace(b"alice", b"mallo")).decode()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"


@pytest.mark.parametrize("algorithm", ["rsa", "ecdsa", "ed25519"])
def test_verify_csr_signature_refuses_a_tampered_csr(keys: KeyPool, algorithm: str) -> None:
    csr = load_csr(tampered(build_csr(key=keys.get("csr", algorithm), subject=parse_subject("CN=alice"))))
    assert csr.subject == parse_subject("CN=mallo")
    with pytest.raises(InvalidCSR, match="signature is not valid") as info:
        verify_csr_signature(csr)
    assert info.value.field == "csr"


def test_csr_public_key_refuses_weak_keys() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    csr = x509.CertificateSigningRequestBuilder().subject_name(parse_subject("CN=weak")).sign(weak, hashes.SHA256())
    with pytest.raises(InvalidCSR, match="at least 2048 bits"):
        csr_public_key(load_csr(csr_to_pem(csr)))
