"""Shared builders, the openssl and pkilint runners, and a CSR builder for any subject bytes."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import shutil
import subprocess
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

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


def lint(tool: str, *args: str | Path) -> list[str]:
    """Run a pkilint CLI in-process (its console scripts call the same `main`).

    Returns the findings at WARNING or above, as 'SEVERITY code at node' strings.
    """
    main = importlib.import_module(f"pkilint.bin.{tool}").main
    output = io.StringIO()
    # The CLI opens its input with argparse.FileType and never closes it; let that file be
    # collected here, where its ResourceWarning is expected, rather than fail a later test.
    with contextlib.redirect_stdout(output), warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        main(["lint", "-s", "WARNING", "-f", "JSON", *map(str, args)])
    return findings(output.getvalue())


def findings(report: str) -> list[str]:
    if not report.strip():
        return []
    return [
        f"{finding['severity']} {finding['code']} at {node['node_path']}"
        for node in json.loads(report)["results"]
        for finding in node["finding_descriptions"]
    ]


def lint_certificate(pem: str, directory: Path, name: str = "certificate") -> list[str]:
    """pkilint's RFC 5280 findings (WARNING and above) on one PEM certificate."""
    return lint("lint_pkix_cert", write(directory / f"{name}.pem", pem))


# --- CSRs whose subject holds exactly the bytes a test wants ---------------------------------

# DER tags of the string types a subject attribute may carry.
UTF8, PRINTABLE, T61, IA5, VISIBLE, UNIVERSAL, BMP, BIT_STRING, OCTET_STRING = (
    0x0C, 0x13, 0x14, 0x16, 0x1A, 0x1C, 0x1E, 0x03, 0x04,
)  # fmt: skip

RawAttribute = tuple[str, int, bytes]  # (dotted OID, DER tag, value bytes)


def der(tag: int, body: bytes) -> bytes:
    if len(body) < 0x80:
        return bytes([tag, len(body)]) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def der_oid(dotted: str) -> bytes:
    first, second, *rest = (int(arc) for arc in dotted.split("."))
    body = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        body += bytes(reversed(chunk))
    return der(0x06, bytes(body))


def raw_name(rdns: Sequence[Sequence[RawAttribute]]) -> bytes:
    """A DER Name from RDNs in DER order (least specific first), each a list of raw attributes."""
    sets = (sorted(der(0x30, der_oid(oid) + der(tag, value)) for oid, tag, value in rdn) for rdn in rdns)
    return der(0x30, b"".join(der(0x31, b"".join(members)) for members in sets))  # DER sorts a SET OF


def _children(tlv: bytes) -> list[bytes]:
    """The TLVs inside a constructed DER value."""
    size = tlv[1]
    offset = 2 + (size & 0x7F if size & 0x80 else 0)
    body, children = tlv[offset:], []
    while body:
        size, offset = body[1], 2
        if size & 0x80:
            offset += size & 0x7F
            size = int.from_bytes(body[2:offset], "big")
        children.append(body[: offset + size])
        body = body[offset + size :]
    return children


def csr_with_subject(
    key: ec.EllipticCurvePrivateKey,
    rdns: Sequence[Sequence[RawAttribute]],
    *,
    dns: Sequence[str] = (),
    emails: Sequence[str] = (),
) -> x509.CertificateSigningRequest:
    """A correctly signed CSR whose subject is exactly `raw_name(rdns)`: cryptography's builder
    refuses (or re-encodes) much of what a hostile client can send, so the subject is spliced in."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns] + [x509.RFC822Name(e) for e in emails]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    template = builder.sign(key, hashes.SHA256())
    version, _subject, public_key, attributes = _children(template.tbs_certrequest_bytes)
    tbs = der(0x30, version + raw_name(rdns) + public_key + attributes)
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    ecdsa_with_sha256 = der(0x30, der_oid("1.2.840.10045.4.3.2"))
    return x509.load_der_x509_csr(der(0x30, tbs + ecdsa_with_sha256 + der(0x03, b"\x00" + signature)))
