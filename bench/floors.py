"""Floors: what the cryptography alone costs, in this process, on the same keys the server uses.

`certificates.x509` is plain Python over `cryptography` (no Django, no database), so the floors
call it exactly as the server does: the difference between a floor and a server figure is HTTP,
Django, the database and whatever the server does that it need not do. Each function returns one
operation, `op(i)`, for the caller to time next to its workload (bench.client.interleaved).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from certificates import x509 as pki

Op = Callable[[int], None]


class CA:
    """A CA's certificate and private key, as the server stored them (fetched through the API)."""

    def __init__(self, cert_pem: str, key_pem: str) -> None:
        self.cert = pki.load_certificate_pem(cert_pem)
        self.key = pki.load_private_key_pem(key_pem)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _leaf(ca: CA, public_key: Any, common_name: str) -> Any:
    now = _now()
    base = "http://127.0.0.1/x"
    return pki.build_leaf(
        certificate_type="server",
        subject=pki.parse_subject(f"CN={common_name}"),
        public_key=public_key,
        issuer_cert=ca.cert,
        issuer_key=ca.key,
        serial=pki.random_serial(),
        not_before=now,
        not_after=now + timedelta(days=90),
        sans=pki.build_sans("server", common_name, (common_name,), (), ()),
        crl_url=f"{base}/crl/x",
        ca_issuers_url=f"{base}/ca/x.crt",
        ocsp_url=f"{base}/ocsp/x",
    )


def leaf_sign(ca: CA, public_key: Any) -> Op:
    """Build and sign one leaf certificate for a given public key (a CSR's)."""

    def op(i: int) -> None:
        pki.certificate_to_pem(_leaf(ca, public_key, "csr.bench.example"))

    return op


def keygen_and_sign(ca: CA, key_size: int) -> Op:
    """Make an RSA key of `key_size` bits and sign a leaf for it."""

    def op(i: int) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        pki.certificate_to_pem(_leaf(ca, key.public_key(), "issued.bench.example"))
        pki.private_key_to_pem(key)

    return op


def crl_entries(count: int) -> list[pki.RevokedEntry]:
    now = _now()
    flag = pki.REASON_NAMES["key_compromise"]
    return [pki.RevokedEntry(pki.random_serial(), now, flag) for _ in range(count)]


def crl_build(ca: CA, entries: Sequence[pki.RevokedEntry]) -> Op:
    """Build, sign and DER-encode a CRL of these entries (the list already in memory)."""
    now = _now()

    def op(i: int) -> None:
        crl = pki.build_crl(
            issuer_cert=ca.cert,
            issuer_key=ca.key,
            entries=entries,
            crl_number=i + 2,
            this_update=now,
            next_update=now + timedelta(hours=24),
        )
        pki.crl_to_der(crl)

    return op


def ocsp_sign(ca: CA, request_der: bytes) -> Op:
    """Parse one OCSP request and build and sign its `good` answer."""

    def op(i: int) -> None:
        request = pki.parse_ocsp_request(request_der)
        now = _now()
        pki.build_ocsp_response(
            issuer_cert=ca.cert,
            issuer_key=ca.key,
            request=request,
            lookup=pki.OCSPLookup(pki.OCSPStatus.GOOD),
            this_update=now,
            next_update=now + timedelta(hours=1),
        )

    return op
