"""openssl itself accepts the chains we issue: root → intermediate → intermediate → leaf."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from certificates.x509 import CertificateType, certificate_to_pem

from .conftest import KeyPool
from .helpers import make_intermediate, make_leaf, make_root, openssl, write, write_chain


@pytest.mark.parametrize("algorithm", ["rsa", "ecdsa", "ed25519"])
@pytest.mark.parametrize(
    ("kind", "cn", "purpose"),
    [
        (CertificateType.SERVER, "localhost", "sslserver"),
        (CertificateType.CLIENT, "alice@example.com", "sslclient"),
        (CertificateType.DUAL_PURPOSE, "node.example", "sslserver"),
        (CertificateType.DUAL_PURPOSE, "node.example", "sslclient"),
    ],
)
def test_openssl_verifies_a_four_level_chain(
    tmp_path: Path,
    keys: KeyPool,
    now: datetime,
    algorithm: str,
    kind: CertificateType,
    cn: str,
    purpose: str,
) -> None:
    root = make_root(keys.get("chain-root", algorithm), now, path_length=2)
    first = make_intermediate(root, keys.get("chain-1", algorithm), now, cn="Issuing 1")
    second = make_intermediate(first, keys.get("chain-2", algorithm), now, cn="Issuing 2", slug="issuing-2-3")
    leaf = make_leaf(second, keys.get("chain-leaf", algorithm), now, certificate_type=kind, cn=cn)
    result = openssl(
        "verify",
        "-x509_strict",
        "-purpose",
        purpose,
        "-CAfile",
        write(tmp_path / "root.pem", root.pem),
        "-untrusted",
        write_chain(tmp_path / "inter.pem", [second.cert, first.cert]),
        write(tmp_path / "leaf.pem", certificate_to_pem(leaf)),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "leaf.pem: OK" in result.stdout


@pytest.mark.parametrize(
    ("kind", "purpose"),
    [(CertificateType.SERVER, "sslclient"), (CertificateType.CLIENT, "sslserver")],
)
def test_openssl_refuses_the_wrong_purpose(
    tmp_path: Path, keys: KeyPool, now: datetime, kind: CertificateType, purpose: str
) -> None:
    root = make_root(keys.get("root"), now)
    cn = "alice@example.com" if kind is CertificateType.CLIENT else "www.example.com"
    leaf = make_leaf(root, keys.get("leaf"), now, certificate_type=kind, cn=cn)
    result = openssl(
        "verify",
        "-purpose",
        purpose,
        "-CAfile",
        write(tmp_path / "root.pem", root.pem),
        write(tmp_path / "leaf.pem", certificate_to_pem(leaf)),
    )
    assert result.returncode != 0
    assert "unsuitable certificate purpose" in result.stdout + result.stderr


def test_openssl_enforces_our_path_length(tmp_path: Path, keys: KeyPool, now: datetime) -> None:
    root = make_root(keys.get("root"), now, path_length=1)
    first = make_intermediate(root, keys.get("chain-1"), now, path_length=0)
    # The x509 layer refuses a CA under path length 0; a ca-type leaf is still a valid end of path.
    ca_leaf = make_leaf(first, keys.get("chain-2"), now, certificate_type=CertificateType.CA, cn="Sub")
    result = openssl(
        "verify",
        "-x509_strict",
        "-CAfile",
        write(tmp_path / "root.pem", root.pem),
        "-untrusted",
        write_chain(tmp_path / "inter.pem", [first.cert]),
        write(tmp_path / "leaf.pem", certificate_to_pem(ca_leaf)),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_openssl_shows_the_extensions(tmp_path: Path, keys: KeyPool, now: datetime) -> None:
    root = make_root(keys.get("root"), now)
    inter = make_intermediate(root, keys.get("intermediate"), now)
    leaf = make_leaf(inter, keys.get("leaf", "rsa"), now, cn="www.example.com")
    text = openssl("x509", "-noout", "-text", "-in", write(tmp_path / "leaf.pem", certificate_to_pem(leaf))).stdout
    for expected in [
        "X509v3 Basic Constraints: critical\n                CA:FALSE",
        "X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment",
        "X509v3 Extended Key Usage: \n                TLS Web Server Authentication",
        "DNS:www.example.com",
        "URI:http://pki.example.test/crl/test-intermediate-2",
        "OCSP - URI:http://pki.example.test/ocsp/test-intermediate-2",
        "CA Issuers - URI:http://pki.example.test/ca/test-intermediate-2.crt",
        "Subject: O = Acme, CN = www.example.com",
    ]:
        assert expected in text
