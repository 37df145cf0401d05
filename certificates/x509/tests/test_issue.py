"""Certificate profiles (SPEC §6, §7), serials, validity clamping and path lengths."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from certificates.x509 import (
    CertificateType,
    InvalidPathLength,
    InvalidPEM,
    InvalidSubject,
    InvalidValidity,
    X509Error,
    build_leaf,
    build_root_ca,
    build_sans,
    certificate_to_der,
    certificate_to_pem,
    chain_pem,
    child_path_length,
    clamp_validity,
    load_certificate_pem,
    parse_subject,
    random_serial,
    serial_from_hex,
    serial_to_hex,
)

from .conftest import KeyPool
from .helpers import Issued, make_intermediate, make_leaf, make_root, urls

E = TypeVar("E", bound=x509.ExtensionType)
SERVER_AUTH, CLIENT_AUTH = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH


def ext(cert: x509.Certificate, kind: type[E]) -> x509.Extension[E]:
    return cert.extensions.get_extension_for_class(kind)


def ski(cert: x509.Certificate) -> bytes:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def aki(cert: x509.Certificate) -> bytes | None:
    return cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier


def uris(cert: x509.Certificate) -> dict[str, str]:
    found = {}
    for point in ext(cert, x509.CRLDistributionPoints).value:
        found["crl_url"] = point.full_name[0].value
    for access in ext(cert, x509.AuthorityInformationAccess).value:
        key = "ocsp_url" if access.access_method == AuthorityInformationAccessOID.OCSP else "ca_issuers_url"
        found[key] = access.access_location.value
    return found


def test_root_ca_profile(root: Issued) -> None:
    cert = root.cert
    assert cert.issuer == cert.subject
    constraints = ext(cert, x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length is None
    usage = ext(cert, x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign and usage.value.crl_sign and usage.value.digital_signature
    assert aki(cert) == ski(cert)
    for absent in (x509.CRLDistributionPoints, x509.AuthorityInformationAccess, x509.ExtendedKeyUsage):
        with pytest.raises(x509.ExtensionNotFound):
            ext(cert, absent)
    cert.verify_directly_issued_by(cert)


def test_intermediate_ca_profile(root: Issued, intermediate: Issued) -> None:
    cert = intermediate.cert
    assert cert.issuer == root.cert.subject
    constraints = ext(cert, x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    assert ext(cert, x509.KeyUsage).value.key_cert_sign
    assert aki(cert) == ski(root.cert) != ski(cert)
    assert uris(cert) == urls(root)
    cert.verify_directly_issued_by(root.cert)


@pytest.mark.parametrize(
    ("kind", "algorithm", "ekus", "key_encipherment"),
    [
        (CertificateType.SERVER, "ecdsa", [SERVER_AUTH], False),
        (CertificateType.CLIENT, "ecdsa", [CLIENT_AUTH], False),
        (CertificateType.DUAL_PURPOSE, "ecdsa", [SERVER_AUTH, CLIENT_AUTH], False),
        (CertificateType.SERVER, "rsa", [SERVER_AUTH], True),
        (CertificateType.CLIENT, "ed25519", [CLIENT_AUTH], False),
    ],
)
def test_leaf_profile(
    keys: KeyPool,
    now: datetime,
    intermediate: Issued,
    kind: CertificateType,
    algorithm: str,
    ekus: list[x509.ObjectIdentifier],
    key_encipherment: bool,
) -> None:
    cn = "alice@example.com" if kind is CertificateType.CLIENT else "www.example.com"
    cert = make_leaf(intermediate, keys.get("leaf", algorithm), now, certificate_type=kind, cn=cn)
    constraints = ext(cert, x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    usage = ext(cert, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert usage.value.key_encipherment is key_encipherment
    assert not usage.value.key_cert_sign
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == ekus
    assert aki(cert) == ski(intermediate.cert)
    assert ski(cert) == x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    assert uris(cert) == urls(intermediate)
    san = ext(cert, x509.SubjectAlternativeName)
    assert not san.critical
    names = san.value.get_values_for_type(x509.DNSName) + san.value.get_values_for_type(x509.RFC822Name)
    assert names == [cn]
    cert.verify_directly_issued_by(intermediate.cert)


def test_ca_type_leaf_is_a_ca_with_path_length_zero(keys: KeyPool, now: datetime, intermediate: Issued) -> None:
    cert = make_leaf(intermediate, keys.get("leaf"), now, certificate_type=CertificateType.CA, cn="Sub CA")
    constraints = ext(cert, x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    assert ext(cert, x509.KeyUsage).value.key_cert_sign
    with pytest.raises(x509.ExtensionNotFound):
        ext(cert, x509.ExtendedKeyUsage)


def test_empty_subject_makes_the_san_critical(keys: KeyPool, now: datetime, intermediate: Issued) -> None:
    cert = build_leaf(
        certificate_type="server",
        subject=x509.Name([]),
        public_key=keys.get("leaf").public_key(),
        issuer_cert=intermediate.cert,
        issuer_key=intermediate.key,
        serial=random_serial(),
        not_before=now,
        not_after=now + timedelta(days=1),
        sans=build_sans("server", None, ["only-san.example"]),
    )
    assert ext(cert, x509.SubjectAlternativeName).critical


def leaf_kwargs(keys: KeyPool, now: datetime, issuer: Issued) -> dict[str, object]:
    return {
        "certificate_type": CertificateType.SERVER,
        "subject": parse_subject("CN=x.example"),
        "public_key": keys.get("leaf").public_key(),
        "issuer_cert": issuer.cert,
        "issuer_key": issuer.key,
        "serial": random_serial(),
        "not_before": now,
        "not_after": now + timedelta(days=1),
    }


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"subject": x509.Name([])}, InvalidSubject, "subject or at least one SAN"),
        ({"not_after": "far"}, InvalidValidity, "outlive"),
        ({"not_after": "before"}, InvalidValidity, "later than not_before"),
        ({"serial": 0}, X509Error, "serial number"),
        ({"serial": 1 << 159}, X509Error, "serial number"),
        ({"crl_url": "ftp://example/crl"}, X509Error, "http(s) URL"),
    ],
)
def test_build_leaf_refuses(
    keys: KeyPool,
    now: datetime,
    intermediate: Issued,
    change: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    kwargs = leaf_kwargs(keys, now, intermediate) | change
    if kwargs["not_after"] == "far":
        kwargs["not_after"] = intermediate.cert.not_valid_after_utc + timedelta(seconds=1)
    if kwargs["not_after"] == "before":
        kwargs["not_after"] = now
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_leaf(**kwargs)  # type: ignore[arg-type]


def test_build_leaf_refuses_programming_errors(
    keys: KeyPool, now: datetime, intermediate: Issued, root: Issued
) -> None:
    with pytest.raises(ValueError, match="does not belong"):
        build_leaf(**leaf_kwargs(keys, now, intermediate) | {"issuer_key": root.key})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="timezone-aware"):
        build_leaf(**leaf_kwargs(keys, now, intermediate) | {"not_before": now.replace(tzinfo=None)})  # type: ignore[arg-type]


def test_a_leaf_cannot_sign(keys: KeyPool, now: datetime, intermediate: Issued) -> None:
    leaf = make_leaf(intermediate, keys.get("leaf"), now)
    with pytest.raises(X509Error, match="not a CA"):
        build_leaf(**leaf_kwargs(keys, now, Issued(leaf, keys.get("leaf"), "leaf-1")))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("parent", "requested", "expected"),
    [(None, None, None), (None, 2, 2), (3, None, 2), (3, 0, 0), (1, None, 0), (2, 1, 1)],
)
def test_child_path_length(parent: int | None, requested: int | None, expected: int | None) -> None:
    assert child_path_length(parent, requested) == expected


@pytest.mark.parametrize(
    ("parent", "requested", "field", "message"),
    [
        (0, None, "parent_ca_id", "path length 0"),
        (0, 0, "parent_ca_id", "path length 0"),
        (2, 2, "path_length", "less than the parent CA's path length (2)"),
        (None, -1, "path_length", "negative"),
    ],
)
def test_child_path_length_refuses(parent: int | None, requested: int | None, field: str, message: str) -> None:
    with pytest.raises(InvalidPathLength) as info:
        child_path_length(parent, requested)
    assert info.value.field == field
    assert message in info.value.message


def test_intermediate_under_path_length_zero_is_refused(keys: KeyPool, now: datetime) -> None:
    root = make_root(keys.get("root"), now, path_length=0)
    with pytest.raises(InvalidPathLength, match="path length 0"):
        make_intermediate(root, keys.get("intermediate"), now)
    limited = make_root(keys.get("root"), now, path_length=1)
    assert (
        ext(
            make_intermediate(limited, keys.get("intermediate"), now, path_length=0).cert, x509.BasicConstraints
        ).value.path_length
        == 0
    )
    with pytest.raises(InvalidPathLength, match="less than"):
        make_intermediate(limited, keys.get("intermediate"), now, path_length=1)


def test_a_ca_needs_a_subject(keys: KeyPool, now: datetime) -> None:
    with pytest.raises(InvalidSubject, match="non-empty subject"):
        build_root_ca(
            subject=x509.Name([]),
            key=keys.get("root"),
            serial=random_serial(),
            not_before=now,
            not_after=now + timedelta(days=1),
            path_length=None,
        )


class FixedBits:
    def __init__(self, *values: int) -> None:
        self.values = list(values)

    def getrandbits(self, k: int, /) -> int:
        assert k == 159
        return self.values.pop(0)


def test_random_serial_range() -> None:
    serials = {random_serial() for _ in range(200)}
    assert len(serials) == 200
    assert all(1 << 63 <= serial < 1 << 159 for serial in serials)
    assert random_serial(random.Random(7)) == random_serial(random.Random(7))


def test_random_serial_redraws_short_values() -> None:
    assert random_serial(FixedBits(5, (1 << 63) - 1, 1 << 63)) == 1 << 63


@pytest.mark.parametrize(
    ("serial", "text"),
    [(1, "1"), (255, "ff"), (0x0ABC, "abc"), ((1 << 159) - 1, "7" + "f" * 39)],
)
def test_serial_to_hex(serial: int, text: str) -> None:
    assert serial_to_hex(serial) == text
    assert serial_from_hex(text) == serial
    assert serial_from_hex(text.upper()) == serial


@pytest.mark.parametrize(
    ("text", "serial"), [("0a:bc", 0xABC), (" FF ", 255), ("", None), ("xyz", None), ("1" * 41, None), ("-1", None)]
)
def test_serial_from_hex(text: str, serial: int | None) -> None:
    assert serial_from_hex(text) == serial


def test_issued_serial_is_shown_in_hex(root: Issued) -> None:
    assert int(serial_to_hex(root.cert.serial_number), 16) == root.cert.serial_number


T0 = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("days", "issuer_not_after", "expected", "capped"),
    [
        (365, None, T0 + timedelta(days=365), False),
        (365, T0 + timedelta(days=400), T0 + timedelta(days=365), False),
        (365, T0 + timedelta(days=365), T0 + timedelta(days=365), False),
        (365, T0 + timedelta(days=100), T0 + timedelta(days=100), True),
        (999_999_999, T0 + timedelta(days=100), T0 + timedelta(days=100), True),
    ],
)
def test_clamp_validity(days: int, issuer_not_after: datetime | None, expected: datetime, capped: bool) -> None:
    assert clamp_validity(T0, days, issuer_not_after) == (expected, capped)


@pytest.mark.parametrize(
    ("days", "issuer_not_after", "field", "message"),
    [
        (0, None, "valid_days", "at least 1"),
        (-5, None, "valid_days", "at least 1"),
        (999_999_999, None, "valid_days", "too large"),
        (10, T0, "ca_id", "expired"),
        (10, T0 - timedelta(days=1), "ca_id", "expired"),
    ],
)
def test_clamp_validity_refuses(days: int, issuer_not_after: datetime | None, field: str, message: str) -> None:
    with pytest.raises(InvalidValidity) as info:
        clamp_validity(T0, days, issuer_not_after)
    assert info.value.field == field
    assert message in info.value.message


def test_encodings_round_trip(root: Issued, intermediate: Issued) -> None:
    pem = certificate_to_pem(root.cert)
    assert load_certificate_pem(pem) == root.cert
    assert load_certificate_pem(pem.encode()) == root.cert
    assert x509.load_der_x509_certificate(certificate_to_der(root.cert)) == root.cert
    chain = chain_pem([intermediate.cert, root.cert])
    assert x509.load_pem_x509_certificates(chain.encode()) == [intermediate.cert, root.cert]


@pytest.mark.parametrize("pem", ["", "nonsense", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
def test_load_certificate_pem_refuses(pem: str) -> None:
    with pytest.raises(InvalidPEM) as info:
        load_certificate_pem(pem)
    assert info.value.field == "certificate"
