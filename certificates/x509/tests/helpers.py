"""Shared builders and the openssl runner for the X.509 tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from certificates.x509 import (
    CertificateType,
    SanSet,
    build_intermediate_ca,
    build_leaf,
    build_root_ca,
    build_sans,
    certificate_to_pem,
    chain_pem,
    parse_subject,
    random_serial,
)
from certificates.x509.keys import PrivateKey

BASE_URL = "http://pki.example.test"


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: PrivateKey
    slug: str

    @property
    def pem(self) -> str:
        return certificate_to_pem(self.cert)


def urls(issuer: Issued) -> dict[str, str]:
    """The public URLs of `issuer` that the certificates it signs carry."""
    return {
        "crl_url": f"{BASE_URL}/crl/{issuer.slug}",
        "ca_issuers_url": f"{BASE_URL}/ca/{issuer.slug}.crt",
        "ocsp_url": f"{BASE_URL}/ocsp/{issuer.slug}",
    }


def make_root(key: PrivateKey, now: datetime, *, cn: str = "Test Root", path_length: int | None = None) -> Issued:
    cert = build_root_ca(
        subject=parse_subject(f"CN={cn},O=Acme,C=US"),
        key=key,
        serial=random_serial(),
        not_before=now - timedelta(hours=1),
        not_after=now + timedelta(days=3650),
        path_length=path_length,
    )
    return Issued(cert, key, "test-root-1")


def make_intermediate(
    parent: Issued,
    key: PrivateKey,
    now: datetime,
    *,
    cn: str = "Test Intermediate",
    path_length: int | None = None,
    days: int = 1825,
    slug: str = "test-intermediate-2",
) -> Issued:
    cert = build_intermediate_ca(
        subject=parse_subject(f"CN={cn},O=Acme,C=US"),
        public_key=key.public_key(),
        issuer_cert=parent.cert,
        issuer_key=parent.key,
        serial=random_serial(),
        not_before=now - timedelta(minutes=30),
        not_after=now + timedelta(days=days),
        path_length=path_length,
        **urls(parent),
    )
    return Issued(cert, key, slug)


def make_leaf(
    issuer: Issued,
    key: PrivateKey,
    now: datetime,
    *,
    certificate_type: CertificateType = CertificateType.SERVER,
    cn: str = "localhost",
    sans: SanSet | None = None,
    days: int = 30,
) -> x509.Certificate:
    if sans is None:
        sans = build_sans(certificate_type, cn)
    return build_leaf(
        certificate_type=certificate_type,
        subject=parse_subject(f"CN={cn},O=Acme"),
        public_key=key.public_key(),
        issuer_cert=issuer.cert,
        issuer_key=issuer.key,
        serial=random_serial(),
        not_before=now - timedelta(minutes=10),
        not_after=now + timedelta(days=days),
        sans=sans,
        **urls(issuer),
    )


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    return path


def write_chain(path: Path, certs: Sequence[x509.Certificate]) -> Path:
    return write(path, chain_pem(certs))


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the openssl binary; the caller checks returncode and output."""
    binary = shutil.which("openssl")
    if binary is None:
        pytest.skip("the openssl binary is not installed")
    return subprocess.run([binary, *map(str, args)], capture_output=True, text=True, timeout=60, check=False)
