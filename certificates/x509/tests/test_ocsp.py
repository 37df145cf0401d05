"""OCSP: request parsing, signed answers (good, revoked, unknown), nonces, openssl's view."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from certificates.x509 import (
    InvalidOCSPRequest,
    OCSPLookup,
    OCSPStatus,
    build_ocsp_response,
    malformed_response,
    parse_ocsp_get_request,
    parse_ocsp_request,
    request_matches_issuer,
)

from .conftest import KeyPool
from .helpers import Issued, make_leaf, openssl, write, write_chain

REVOKED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
GOOD = OCSPLookup(OCSPStatus.GOOD)
REVOKED = OCSPLookup(OCSPStatus.REVOKED, REVOKED_AT, x509.ReasonFlags.key_compromise)


@pytest.fixture(scope="module")
def leaf(keys: KeyPool, now: datetime, intermediate: Issued) -> x509.Certificate:
    return make_leaf(intermediate, keys.get("leaf"), now, cn="ocsp.example")


def request_der(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    nonce: bytes | None = None,
    algorithm: hashes.HashAlgorithm | None = None,
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm or hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def answer(issuer: Issued, der: bytes, lookup: OCSPLookup, now: datetime) -> bytes:
    return build_ocsp_response(
        issuer_cert=issuer.cert,
        issuer_key=issuer.key,
        request=parse_ocsp_request(der),
        lookup=lookup,
        this_update=now,
        next_update=now + timedelta(hours=1),
    )


@pytest.mark.parametrize(
    ("lookup", "status", "reason"),
    [
        (GOOD, ocsp.OCSPCertStatus.GOOD, None),
        (REVOKED, ocsp.OCSPCertStatus.REVOKED, x509.ReasonFlags.key_compromise),
        (
            OCSPLookup(OCSPStatus.REVOKED, REVOKED_AT, x509.ReasonFlags.unspecified),
            ocsp.OCSPCertStatus.REVOKED,
            None,
        ),
        (OCSPLookup(OCSPStatus.REVOKED, REVOKED_AT), ocsp.OCSPCertStatus.REVOKED, None),
        (OCSPLookup(OCSPStatus.UNKNOWN), ocsp.OCSPCertStatus.UNKNOWN, None),
    ],
)
def test_ocsp_answers(
    now: datetime,
    intermediate: Issued,
    leaf: x509.Certificate,
    lookup: OCSPLookup,
    status: ocsp.OCSPCertStatus,
    reason: x509.ReasonFlags | None,
) -> None:
    response = ocsp.load_der_ocsp_response(answer(intermediate, request_der(leaf, intermediate.cert), lookup, now))
    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status is status
    assert response.serial_number == leaf.serial_number
    assert response.revocation_reason is reason
    expected_time = REVOKED_AT if status is ocsp.OCSPCertStatus.REVOKED else None
    assert response.revocation_time_utc == expected_time
    assert response.this_update_utc == now
    assert response.next_update_utc == now + timedelta(hours=1)
    public_key = intermediate.cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert response.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(public_key).digest
    public_key.verify(
        response.signature,
        response.tbs_response_bytes,
        ec.ECDSA(response.signature_hash_algorithm),  # type: ignore[arg-type]
    )


def test_ocsp_echoes_the_nonce_and_the_cert_id_hash(
    now: datetime, intermediate: Issued, leaf: x509.Certificate
) -> None:
    nonce = os.urandom(16)
    der = request_der(leaf, intermediate.cert, nonce=nonce, algorithm=hashes.SHA256())
    response = ocsp.load_der_ocsp_response(answer(intermediate, der, GOOD, now))
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    assert isinstance(response.hash_algorithm, hashes.SHA256)
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    without = ocsp.load_der_ocsp_response(answer(intermediate, request_der(leaf, intermediate.cert), GOOD, now))
    with pytest.raises(x509.ExtensionNotFound):
        without.extensions.get_extension_for_class(x509.OCSPNonce)


def test_a_request_for_another_issuer_is_unknown(
    now: datetime, root: Issued, intermediate: Issued, leaf: x509.Certificate
) -> None:
    der = request_der(leaf, intermediate.cert)
    assert request_matches_issuer(parse_ocsp_request(der), intermediate.cert)
    assert not request_matches_issuer(parse_ocsp_request(der), root.cert)
    response = ocsp.load_der_ocsp_response(answer(root, der, REVOKED, now))
    assert response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN


@pytest.mark.parametrize("der", [b"", b"garbage", b"\x30\x03\x02\x01\x01"])
def test_parse_ocsp_request_refuses(der: bytes) -> None:
    with pytest.raises(InvalidOCSPRequest):
        parse_ocsp_request(der)


def test_ocsp_get_request(intermediate: Issued, leaf: x509.Certificate) -> None:
    der = request_der(leaf, intermediate.cert)
    encoded = quote(base64.b64encode(der).decode(), safe="")
    assert parse_ocsp_get_request(encoded).serial_number == leaf.serial_number
    with pytest.raises(InvalidOCSPRequest, match="base64"):
        parse_ocsp_get_request("%%%not-base64")


def test_malformed_response() -> None:
    response = ocsp.load_der_ocsp_response(malformed_response())
    assert response.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


@pytest.mark.parametrize(
    ("lookup", "expected"),
    [
        (GOOD, ["Cert Status: good"]),
        (REVOKED, ["Cert Status: revoked", "Revocation Reason: keyCompromise (0x1)"]),
        (OCSPLookup(OCSPStatus.UNKNOWN), ["Cert Status: unknown"]),
    ],
)
def test_openssl_reads_and_verifies_the_response(
    tmp_path: Path,
    now: datetime,
    root: Issued,
    intermediate: Issued,
    leaf: x509.Certificate,
    lookup: OCSPLookup,
    expected: list[str],
) -> None:
    nonce = os.urandom(16)
    response = write(
        tmp_path / "resp.der",
        answer(intermediate, request_der(leaf, intermediate.cert, nonce=nonce), lookup, now),
    )
    text = openssl("ocsp", "-respin", response, "-resp_text", "-noverify")
    assert text.returncode == 0, text.stderr
    assert "OCSP Response Status: successful (0x0)" in text.stdout
    assert nonce.hex().upper() in text.stdout.replace(":", "").replace("\n", "").replace(" ", "")
    for line in expected:
        assert line in text.stdout
    # The CA signs its own answers: openssl accepts it as the responder for the leaf's issuer.
    verified = openssl(
        "ocsp",
        "-respin",
        response,
        "-no_nonce",
        "-issuer",
        write(tmp_path / "issuer.pem", intermediate.pem),
        "-cert",
        write(tmp_path / "leaf.pem", leaf.public_bytes(serialization.Encoding.PEM)),
        "-CAfile",
        write_chain(tmp_path / "chain.pem", [intermediate.cert, root.cert]),
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Response verify OK" in verified.stderr + verified.stdout


def test_openssl_reads_the_malformed_response(tmp_path: Path) -> None:
    result = openssl("ocsp", "-respin", write(tmp_path / "bad.der", malformed_response()), "-resp_text", "-noverify")
    assert "malformedrequest" in (result.stdout + result.stderr).lower()
