"""pkilint's RFC 5280 / RFC 6960 linters find nothing at WARNING or above in what we issue."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from certificates.x509 import (
    CertificateType,
    OCSPLookup,
    OCSPStatus,
    RevokedEntry,
    build_crl,
    build_ocsp_response,
    certificate_to_pem,
    crl_to_der,
    parse_ocsp_request,
)

from .conftest import KeyPool
from .helpers import Issued, findings, lint, make_intermediate, make_leaf, make_root, write

pytest.importorskip("pkilint")


def test_the_console_script_runs(tmp_path: Path, root: Issued) -> None:
    binary = Path(sys.executable).parent / "lint_pkix_cert"
    if not binary.exists():
        pytest.skip("pkilint's console scripts are not next to this interpreter")
    result = subprocess.run(
        [str(binary), "lint", "-s", "WARNING", "-f", "JSON", str(write(tmp_path / "root.pem", root.pem))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert findings(result.stdout) == []


def test_the_linter_catches_a_bad_ca(tmp_path: Path, keys: KeyPool, now: datetime) -> None:
    key = keys.get("bad-ca")
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Bad")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=False)
        .sign(key, hashes.SHA256())
    )
    found = lint("lint_pkix_cert", write(tmp_path / "bad.pem", certificate_to_pem(cert)))
    assert "ERROR pkix.basic_constraints_extension_not_critical" in " ".join(found)


@pytest.fixture(scope="module", params=["rsa", "ecdsa", "ed25519"])
def hierarchy(request: pytest.FixtureRequest, keys: KeyPool, now: datetime) -> tuple[Issued, Issued]:
    algorithm = request.param
    root = make_root(keys.get("lint-root", algorithm), now, path_length=1)
    return root, make_intermediate(root, keys.get("lint-inter", algorithm), now, path_length=0)


@pytest.mark.parametrize(
    ("kind", "cn"),
    [
        (None, ""),
        (CertificateType.SERVER, "www.example.com"),
        (CertificateType.CLIENT, "alice@example.com"),
        (CertificateType.DUAL_PURPOSE, "node.example.com"),
        (CertificateType.CA, "Sub CA"),
    ],
    ids=["root-and-intermediate", "server", "client", "dual_purpose", "ca"],
)
def test_certificates_lint_clean(
    tmp_path: Path,
    keys: KeyPool,
    now: datetime,
    hierarchy: tuple[Issued, Issued],
    kind: CertificateType | None,
    cn: str,
) -> None:
    root, intermediate = hierarchy
    if kind is None:
        certs = {"root": root.cert, "intermediate": intermediate.cert}
    else:
        certs = {str(kind): make_leaf(intermediate, keys.get("leaf"), now, certificate_type=kind, cn=cn)}
    for name, cert in certs.items():
        assert lint("lint_pkix_cert", write(tmp_path / f"{name}.pem", certificate_to_pem(cert))) == []


def test_chain_lints_clean(tmp_path: Path, keys: KeyPool, now: datetime, hierarchy: tuple[Issued, Issued]) -> None:
    root, intermediate = hierarchy
    leaf = make_leaf(intermediate, keys.get("leaf"), now, cn="www.example.com")
    pems = {
        "root": write(tmp_path / "root.pem", root.pem),
        "intermediate": write(tmp_path / "intermediate.pem", intermediate.pem),
        "leaf": write(tmp_path / "leaf.pem", certificate_to_pem(leaf)),
    }
    assert lint("lint_pkix_signer_signee_cert_chain", pems["root"], pems["intermediate"]) == []
    assert lint("lint_pkix_signer_signee_cert_chain", pems["intermediate"], pems["leaf"]) == []


def test_crl_lints_clean(tmp_path: Path, now: datetime, hierarchy: tuple[Issued, Issued]) -> None:
    _, intermediate = hierarchy
    entries = [
        RevokedEntry(0x1234, now - timedelta(hours=1), x509.ReasonFlags.key_compromise),
        RevokedEntry(0x5678, now - timedelta(hours=1), x509.ReasonFlags.unspecified),
        RevokedEntry(0x9ABC, now - timedelta(hours=1), None),
    ]
    for name, revoked in [("empty", []), ("full", entries)]:
        crl = build_crl(
            issuer_cert=intermediate.cert,
            issuer_key=intermediate.key,
            entries=revoked,
            crl_number=5,
            this_update=now,
            next_update=now + timedelta(days=1),
        )
        path = write(tmp_path / f"{name}.crl", crl_to_der(crl))
        assert lint("lint_crl", "-t", "CRL", "-p", "PKIX", path) == []


@pytest.mark.parametrize(
    "lookup",
    [OCSPLookup(OCSPStatus.GOOD), OCSPLookup(OCSPStatus.UNKNOWN)],
    ids=["good", "unknown"],
)
def test_ocsp_response_lints_clean(
    tmp_path: Path, keys: KeyPool, now: datetime, hierarchy: tuple[Issued, Issued], lookup: OCSPLookup
) -> None:
    _, intermediate = hierarchy
    leaf = make_leaf(intermediate, keys.get("leaf"), now, cn="www.example.com")
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, intermediate.cert, hashes.SHA1()).build()
    response = build_ocsp_response(
        issuer_cert=intermediate.cert,
        issuer_key=intermediate.key,
        request=parse_ocsp_request(request.public_bytes(serialization.Encoding.DER)),
        lookup=lookup,
        this_update=now,
        next_update=now + timedelta(hours=1),
    )
    assert lint("lint_ocsp_response", write(tmp_path / "response.der", response)) == []


def test_revoked_ocsp_response_lints_clean(
    tmp_path: Path, keys: KeyPool, now: datetime, hierarchy: tuple[Issued, Issued]
) -> None:
    _, intermediate = hierarchy
    leaf = make_leaf(intermediate, keys.get("leaf"), now, cn="www.example.com")
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, intermediate.cert, hashes.SHA1()).build()
    response = build_ocsp_response(
        issuer_cert=intermediate.cert,
        issuer_key=intermediate.key,
        request=parse_ocsp_request(request.public_bytes(serialization.Encoding.DER)),
        lookup=OCSPLookup(OCSPStatus.REVOKED, now - timedelta(hours=1), x509.ReasonFlags.superseded),
        this_update=now,
        next_update=now + timedelta(hours=1),
    )
    assert lint("lint_ocsp_response", write(tmp_path / "response.der", response)) == []
