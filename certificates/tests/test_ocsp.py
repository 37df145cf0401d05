"""OCSP responder (SPEC §9): `/ocsp/{slug}` by POST and GET, with openssl as the real client."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from django.test import Client

from certificates import services
from certificates.models import Certificate, CertificateAuthority
from certificates.tests.conftest import cert_of, create_ca, issue_certificate
from certificates.x509 import random_serial

OCSP_REQUEST = "application/ocsp-request"


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("openssl")
    if binary is None:
        pytest.skip("the openssl binary is not installed")
    return subprocess.run([binary, *map(str, args)], capture_output=True, text=True, timeout=60, check=False)


def request_for(
    cert: Certificate, ca: CertificateAuthority, *, nonce: bytes | None = None, algorithm: Any = None
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert_of(cert), cert_of(ca), algorithm or hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def request_for_serial(ca: CertificateAuthority, serial: int) -> bytes:
    """A request naming `ca` as issuer (name and key hash) and any serial."""
    ca_cert = cert_of(ca)
    public_key = ca_cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)  # the test CAs use P-256 keys
    name_hash = hashes.Hash(hashes.SHA1())
    name_hash.update(ca_cert.subject.public_bytes())
    key_hash = hashes.Hash(hashes.SHA1())
    key_hash.update(public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        name_hash.finalize(), key_hash.finalize(), serial, hashes.SHA1()
    )
    return builder.build().public_bytes(serialization.Encoding.DER)


def post(client: Client, ca: CertificateAuthority, body: bytes, **extra: Any) -> ocsp.OCSPResponse:
    response = client.post(f"/ocsp/{ca.slug}", data=body, content_type=OCSP_REQUEST, **extra)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/ocsp-response"
    return ocsp.load_der_ocsp_response(response.content)


def assert_signed_by(answer: ocsp.OCSPResponse, ca: CertificateAuthority) -> None:
    public_key = cert_of(ca).public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(answer.signature, answer.tbs_response_bytes, ec.ECDSA(answer.signature_hash_algorithm))
    assert answer.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(public_key).digest


@pytest.fixture
def root(admin_a) -> CertificateAuthority:
    """Its own root: the paths below spell out `ocsp-root-{id}`."""
    return create_ca(admin_a, "OCSP Root")


@pytest.fixture
def leaf(admin_a, root) -> Certificate:
    return issue_certificate(admin_a, root, "leaf.example.com")


# --- answers, through the Django test client -----------------------------------------------------


def test_good(public: Client, root: CertificateAuthority, leaf: Certificate) -> None:
    answer = post(public, root, request_for(leaf, root))

    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert answer.serial_number == int(leaf.serial_number, 16)
    assert answer.next_update_utc > answer.this_update_utc
    assert_signed_by(answer, root)


def test_revoked_with_time_and_reason(admin_a, public: Client, root: CertificateAuthority, leaf: Certificate) -> None:
    revoked = services.certificate_revoke(actor=admin_a, cert=leaf, reason="key_compromise")

    answer = post(public, root, request_for(leaf, root))

    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_time_utc == revoked.revoked_at.replace(microsecond=0)
    assert answer.revocation_reason == x509.ReasonFlags.key_compromise
    assert_signed_by(answer, root)


def test_revoked_with_free_text_reason_has_no_reason_code(
    admin_a, public: Client, root: CertificateAuthority, leaf: Certificate
) -> None:
    services.certificate_revoke(actor=admin_a, cert=leaf, reason="decommissioned the host")

    answer = post(public, root, request_for(leaf, root))

    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason is None


def test_unknown_serial(public: Client, root: CertificateAuthority, leaf: Certificate) -> None:
    serial = random_serial()

    answer = post(public, root, request_for_serial(root, serial))

    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    assert answer.serial_number == serial
    assert_signed_by(answer, root)


@pytest.fixture
def twin(admin_a, root: CertificateAuthority) -> CertificateAuthority:
    """Another CA with exactly the same subject name as `root` (but its own key)."""
    twin = create_ca(admin_a, "OCSP Twin", subject_dn=root.subject_dn)
    assert cert_of(twin).subject == cert_of(root).subject
    return twin


def test_certificate_of_another_ca_with_the_same_name_is_unknown(
    admin_a, public: Client, root: CertificateAuthority, twin: CertificateAuthority
) -> None:
    stranger = issue_certificate(admin_a, twin, "stranger.example.com")

    answer = post(public, root, request_for(stranger, twin))

    assert answer.certificate_status == ocsp.OCSPCertStatus.UNKNOWN


def test_known_serial_under_another_issuer_key_is_unknown(
    public: Client, root: CertificateAuthority, twin: CertificateAuthority, leaf: Certificate
) -> None:
    # The serial exists under `root`, but the CertID names the twin's key: not ours to answer.
    answer = post(public, root, request_for(leaf, twin))

    assert answer.certificate_status == ocsp.OCSPCertStatus.UNKNOWN


def test_each_ca_answers_only_for_its_own_certificates(
    admin_a, public: Client, root: CertificateAuthority, leaf: Certificate
) -> None:
    inter = create_ca(admin_a, "OCSP Issuing", parent=root)
    child_leaf = issue_certificate(admin_a, inter, "child.example.com")

    assert post(public, inter, request_for(child_leaf, inter)).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert post(public, root, request_for(child_leaf, inter)).certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    assert post(public, inter, request_for(leaf, root)).certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    assert_signed_by(post(public, inter, request_for(child_leaf, inter)), inter)


def test_parent_answers_for_its_child_ca_certificate(admin_a, public: Client, root: CertificateAuthority) -> None:
    inter = create_ca(admin_a, "OCSP Issuing", parent=root)
    ca_request = ocsp.OCSPRequestBuilder().add_certificate(cert_of(inter), cert_of(root), hashes.SHA1()).build()

    answer = post(public, root, ca_request.public_bytes(serialization.Encoding.DER))

    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert answer.serial_number == int(inter.serial_number, 16)
    assert_signed_by(answer, root)


def test_a_deleted_child_ca_is_revoked_for_cessation_of_operation(
    admin_a, public: Client, root: CertificateAuthority
) -> None:
    inter = create_ca(admin_a, "OCSP Issuing", parent=root)
    ca_request = ocsp.OCSPRequestBuilder().add_certificate(cert_of(inter), cert_of(root), hashes.SHA1()).build()
    services.ca_delete(actor=admin_a, ca=inter)

    answer = post(public, root, ca_request.public_bytes(serialization.Encoding.DER))

    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason == x509.ReasonFlags.cessation_of_operation
    assert_signed_by(answer, root)


def test_nonce_is_echoed(public: Client, root: CertificateAuthority, leaf: Certificate) -> None:
    nonce = os.urandom(16)

    answer = post(public, root, request_for(leaf, root, nonce=nonce))

    assert answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce


def test_no_nonce_when_none_asked(public: Client, root: CertificateAuthority, leaf: Certificate) -> None:
    answer = post(public, root, request_for(leaf, root))

    with pytest.raises(x509.ExtensionNotFound):
        answer.extensions.get_extension_for_class(x509.OCSPNonce)


@pytest.mark.parametrize("algorithm", [hashes.SHA1(), hashes.SHA256(), hashes.SHA384()], ids=lambda a: a.name)
def test_cert_id_hash_algorithms(
    public: Client, root: CertificateAuthority, leaf: Certificate, algorithm: hashes.HashAlgorithm
) -> None:
    answer = post(public, root, request_for(leaf, root, algorithm=algorithm))

    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert answer.hash_algorithm.name == algorithm.name


def test_get_with_base64_path(public: Client, root: CertificateAuthority, leaf: Certificate) -> None:
    nonce = os.urandom(16)
    encoded = quote(base64.b64encode(request_for(leaf, root, nonce=nonce)).decode(), safe="")

    response = public.get(f"/ocsp/{root.slug}/{encoded}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/ocsp-response"
    answer = ocsp.load_der_ocsp_response(response.content)
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce


def test_get_with_unencoded_slashes_and_plus(public: Client, root: CertificateAuthority, leaf: Certificate) -> None:
    # Clients differ in how much of the base64 they percent-encode; '/' and '+' may come raw.
    for _ in range(50):
        der = request_for(leaf, root, nonce=os.urandom(16))
        encoded = base64.b64encode(der).decode()
        if "/" in encoded and "+" in encoded:
            break
    else:  # pragma: no cover - 50 random nonces without both characters
        pytest.fail("could not make a request whose base64 has both '/' and '+'")

    response = public.get(f"/ocsp/{root.slug}/{encoded}")

    assert response.status_code == 200
    assert ocsp.load_der_ocsp_response(response.content).certificate_status == ocsp.OCSPCertStatus.GOOD


def test_post_with_trailing_slash(public: Client, root: CertificateAuthority, leaf: Certificate) -> None:
    response = public.post(f"/ocsp/{root.slug}/", data=request_for(leaf, root), content_type=OCSP_REQUEST)

    assert response.status_code == 200
    assert ocsp.load_der_ocsp_response(response.content).certificate_status == ocsp.OCSPCertStatus.GOOD


def test_no_authentication_and_no_csrf_token_needed(root: CertificateAuthority, leaf: Certificate) -> None:
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION="Bearer not-a-token")

    answer = post(client, root, request_for(leaf, root))

    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD


@pytest.mark.parametrize("slug", ["wrong-name-{id}", "ocsp-root-{free}", "OCSP-Root-{id}", "ocsp-root"])
def test_unknown_ca_is_404(public: Client, root: CertificateAuthority, leaf: Certificate, slug: str) -> None:
    path = f"/ocsp/{slug.format(id=root.pk, free=root.pk + 1000)}"

    response = public.post(path, data=request_for(leaf, root), content_type=OCSP_REQUEST)

    assert response.status_code == 404


# --- malformed requests: HTTP 200 with malformedRequest, never a 500 -----------------------------


def _truncated(root: CertificateAuthority, leaf: Certificate) -> bytes:
    return request_for(leaf, root)[:-7]


def _tlv(tag: int, content: bytes) -> bytes:
    """One DER element (definite length, short or long form)."""
    if len(content) < 0x80:
        return bytes([tag, len(content)]) + content
    size = len(content).to_bytes((len(content).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


NONCE_OID = bytes.fromhex("2b0601050507300102")  # 1.3.6.1.5.5.7.48.1.2, id-pkix-ocsp-nonce


def _two_nonces(root: CertificateAuthority, leaf: Certificate) -> bytes:
    # No builder makes this: the same extension twice, which RFC 5280 §4.2 forbids.
    without = request_for(leaf, root)
    assert without[0] == without[2] == 0x30 and without[1] < 0x80 and without[3] < 0x80  # short lengths
    request_list = without[4:]  # OCSPRequest > TBSRequest > requestList
    nonce = _tlv(0x30, _tlv(0x06, NONCE_OID) + _tlv(0x04, _tlv(0x04, b"N" * 16)))
    assert nonce in request_for(leaf, root, nonce=b"N" * 16)  # encoded as a builder encodes it
    extensions = _tlv(0xA2, _tlv(0x30, nonce + nonce))
    return _tlv(0x30, _tlv(0x30, request_list + extensions))


def _trailing_garbage(root: CertificateAuthority, leaf: Certificate) -> bytes:
    return request_for(leaf, root) + b"\x00\x00"


MALFORMED = {
    "empty": lambda root, leaf: b"",
    "garbage": lambda root, leaf: b"this is not an OCSP request at all",
    "single-byte": lambda root, leaf: b"\x30",
    "truncated": _truncated,
    "trailing-garbage": _trailing_garbage,
    "duplicate-nonce": _two_nonces,
    "a-certificate-instead": lambda root, leaf: cert_of(leaf).public_bytes(serialization.Encoding.DER),
    "over-64KiB": lambda root, leaf: b"\x30\x83\x01\x11\x70" + b"\x00" * (70 * 1024),
}


@pytest.mark.parametrize("body", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_post(public: Client, root: CertificateAuthority, leaf: Certificate, body: Any) -> None:
    answer = post(public, root, body(root, leaf))

    assert answer.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


@pytest.mark.parametrize(
    "encoded",
    ["", "not base64!", "%%%", "AAAA", quote(base64.b64encode(b"garbage").decode(), safe="")],
    ids=["empty", "not-base64", "bad-escapes", "base64-of-zeros", "base64-of-garbage"],
)
def test_malformed_get(public: Client, root: CertificateAuthority, encoded: str) -> None:
    response = public.get(f"/ocsp/{root.slug}/{encoded}")

    assert response.status_code == 200
    assert ocsp.load_der_ocsp_response(response.content).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_get_without_a_request(public: Client, root: CertificateAuthority) -> None:
    response = public.get(f"/ocsp/{root.slug}")

    assert response.status_code == 200
    assert ocsp.load_der_ocsp_response(response.content).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


@pytest.mark.parametrize("length", ["abc", "-1", str(10**9)], ids=["not-a-number", "negative", "huge"])
def test_lying_content_length(public: Client, root: CertificateAuthority, leaf: Certificate, length: str) -> None:
    response = public.post(
        f"/ocsp/{root.slug}", data=request_for(leaf, root), content_type=OCSP_REQUEST, CONTENT_LENGTH=length
    )

    assert response.status_code == 200
    assert ocsp.load_der_ocsp_response(response.content).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_several_certificates_in_one_request(public: Client, root: CertificateAuthority, tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text(root.certificate)
    made = openssl(
        "ocsp", "-issuer", tmp_path / "ca.pem", "-serial", "0x1234", "-serial", "0x5678",
        "-no_nonce", "-reqout", tmp_path / "two.der",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr

    answer = post(public, root, (tmp_path / "two.der").read_bytes())

    assert answer.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_other_methods_are_refused(public: Client, root: CertificateAuthority, method: str) -> None:
    assert getattr(public, method)(f"/ocsp/{root.slug}").status_code == 405


# --- the real client: openssl ocsp against a live server ------------------------------------------


def _write(tmp_path: Path, **pems: str) -> dict[str, Path]:
    paths = {}
    for name, pem in pems.items():
        paths[name] = tmp_path / f"{name}.pem"
        paths[name].write_text(pem)
    return paths


def openssl_ocsp(url: str, *args: str | Path) -> str:
    result = openssl("ocsp", "-url", url, "-resp_text", "-timeout", "20", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.mark.django_db(transaction=True)
def test_openssl_client_good_then_revoked(live_server, admin_a, tmp_path: Path) -> None:
    root = create_ca(admin_a, "Live Root")
    leaf = issue_certificate(admin_a, root, "live.example.com")
    files = _write(tmp_path, ca=root.certificate, leaf=leaf.certificate)
    url = f"{live_server.url}/ocsp/{root.slug}"
    ask = ("-issuer", files["ca"], "-cert", files["leaf"], "-CAfile", files["ca"])

    before = openssl_ocsp(url, *ask)
    services.certificate_revoke(actor=admin_a, cert=leaf, reason="key_compromise")
    after = openssl_ocsp(url, *ask)

    assert f"{files['leaf']}: good" in before
    assert "Response verify OK" in before
    assert "WARNING" not in before  # openssl warns when the nonce is missing or wrong
    assert f"{files['leaf']}: revoked" in after
    assert "Reason: keyCompromise" in after
    assert "Revocation Time:" in after
    assert "Response verify OK" in after
    assert "WARNING" not in after


@pytest.mark.django_db(transaction=True)
def test_openssl_client_unknown_for_a_certificate_of_a_same_named_ca(live_server, admin_a, tmp_path: Path) -> None:
    root = create_ca(admin_a, "Live Root", subject_dn="CN=Shared Name,O=Test")
    twin = create_ca(admin_a, "Live Twin", subject_dn="CN=Shared Name,O=Test")
    stranger = issue_certificate(admin_a, twin, "stranger.example.com")
    files = _write(tmp_path, ca=root.certificate, stranger=stranger.certificate)

    output = openssl_ocsp(
        f"{live_server.url}/ocsp/{root.slug}",
        "-issuer", files["ca"], "-cert", files["stranger"], "-CAfile", files["ca"],
    )  # fmt: skip

    assert f"{files['stranger']}: unknown" in output
    assert "Response verify OK" in output


@pytest.mark.django_db(transaction=True)
def test_openssl_client_unknown_serial(live_server, admin_a, tmp_path: Path) -> None:
    root = create_ca(admin_a, "Live Root")
    files = _write(tmp_path, ca=root.certificate)

    output = openssl_ocsp(
        f"{live_server.url}/ocsp/{root.slug}",
        "-issuer", files["ca"], "-serial", hex(random_serial()), "-CAfile", files["ca"],
    )  # fmt: skip

    assert ": unknown" in output
    assert "Response verify OK" in output


@pytest.mark.django_db(transaction=True)
def test_openssl_client_intermediate(live_server, admin_a, tmp_path: Path) -> None:
    root = create_ca(admin_a, "Live Root")
    inter = create_ca(admin_a, "Live Issuing", parent=root)
    leaf = issue_certificate(admin_a, inter, "inter-leaf.example.com")
    files = _write(tmp_path, root=root.certificate, inter=inter.certificate, leaf=leaf.certificate)
    url = f"{live_server.url}/ocsp/{inter.slug}"
    ask = ("-issuer", files["inter"], "-cert", files["leaf"], "-CAfile", files["root"], "-verify_other", files["inter"])

    before = openssl_ocsp(url, *ask)
    services.certificate_revoke(actor=admin_a, cert=leaf, reason="superseded")
    after = openssl_ocsp(url, *ask)

    assert f"{files['leaf']}: good" in before
    assert "Response verify OK" in before
    assert f"{files['leaf']}: revoked" in after
    assert "Reason: superseded" in after
    assert "Response verify OK" in after
    parent = openssl_ocsp(
        f"{live_server.url}/ocsp/{root.slug}",
        "-issuer", files["root"], "-cert", files["inter"], "-CAfile", files["root"],
    )  # fmt: skip
    assert f"{files['inter']}: good" in parent
    assert "Response verify OK" in parent


@pytest.mark.django_db(transaction=True)
def test_openssl_refuses_the_answer_for_a_same_named_ca_with_another_key(live_server, admin_a, tmp_path: Path) -> None:
    # The verifications above mean something: asked at root's URL about the twin's certificate,
    # openssl gets `unknown` signed by root, and root's signature does not pass for the twin's.
    root = create_ca(admin_a, "Live Root", subject_dn="CN=Shared Name,O=Test")
    twin = create_ca(admin_a, "Live Twin", subject_dn="CN=Shared Name,O=Test")
    stranger = issue_certificate(admin_a, twin, "stranger.example.com")
    files = _write(tmp_path, twin=twin.certificate, stranger=stranger.certificate)

    result = openssl(
        "ocsp", "-url", f"{live_server.url}/ocsp/{root.slug}", "-issuer", files["twin"],
        "-cert", files["stranger"], "-CAfile", files["twin"], "-resp_text", "-timeout", "20",
    )  # fmt: skip

    output = result.stdout + result.stderr
    assert "Response verify OK" not in output
    assert "Response Verify Failure" in output
    assert f"{files['stranger']}: unknown" in output
