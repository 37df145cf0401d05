"""Building CA and leaf certificates (SPEC §6, §7), their validity and path length, and encodings.

Certificates hold times to the second: read them back from the certificate
(`not_valid_before_utc`, `not_valid_after_utc`) rather than keeping the datetimes passed in.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from .errors import InvalidPathLength, InvalidPEM, InvalidSubject, InvalidValidity, X509Error
from .keys import PrivateKey, PublicKey, key_spec_of, signature_hash_for
from .serials import SERIAL_LIMIT

if TYPE_CHECKING:
    from .san import SanSet


class CertificateType(enum.StrEnum):
    SERVER = "server"
    CLIENT = "client"
    DUAL_PURPOSE = "dual_purpose"
    CA = "ca"


_EKUS: dict[CertificateType, list[x509.ObjectIdentifier]] = {
    CertificateType.SERVER: [ExtendedKeyUsageOID.SERVER_AUTH],
    CertificateType.CLIENT: [ExtendedKeyUsageOID.CLIENT_AUTH],
    CertificateType.DUAL_PURPOSE: [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
    CertificateType.CA: [],
}

_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def clamp_validity(
    not_before: datetime, requested_days: int, issuer_not_after: datetime | None
) -> tuple[datetime, bool]:
    """not_after for `requested_days` from `not_before`, capped at the issuer's not_after.

    Returns (not_after, capped). A self-signed root passes `issuer_not_after=None`.
    """
    _require_aware(not_before, "not_before")
    if isinstance(requested_days, bool) or not isinstance(requested_days, int):
        raise InvalidValidity("valid_days must be an integer.")
    if requested_days < 1:
        raise InvalidValidity("valid_days must be at least 1.")
    if issuer_not_after is not None:
        _require_aware(issuer_not_after, "issuer_not_after")
        if issuer_not_after <= not_before:
            raise InvalidValidity("The issuing CA has expired.", field="ca_id")
    try:
        not_after = not_before + timedelta(days=requested_days)
    except OverflowError:
        if issuer_not_after is None:
            raise InvalidValidity(f"valid_days {requested_days} is too large.") from None
        return issuer_not_after, True
    if issuer_not_after is not None and not_after > issuer_not_after:
        return issuer_not_after, True
    return not_after, False


def child_path_length(parent_path_length: int | None, requested: int | None) -> int | None:
    """The path length of a new child CA: the request, or the parent's minus one.

    Refuses a child under a parent with path length 0, and a request at or above the parent's.
    """
    if parent_path_length == 0:
        raise InvalidPathLength("The parent CA has path length 0 and cannot have child CAs.", field="parent_ca_id")
    if requested is not None and requested < 0:
        raise InvalidPathLength("path_length must not be negative.")
    if parent_path_length is None:
        return requested
    if requested is None:
        return parent_path_length - 1
    if requested >= parent_path_length:
        raise InvalidPathLength(f"path_length must be less than the parent CA's path length ({parent_path_length}).")
    return requested


def build_root_ca(
    *,
    subject: x509.Name,
    key: PrivateKey,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    path_length: int | None,
) -> x509.Certificate:
    """A self-signed root. Its AKI repeats its own SKI; it has no CDP or AIA."""
    _require_ca_subject(subject)
    if path_length is not None and path_length < 0:
        raise InvalidPathLength("path_length must not be negative.")
    public_key = key.public_key()
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    aki = x509.AuthorityKeyIdentifier(
        key_identifier=ski.digest, authority_cert_issuer=None, authority_cert_serial_number=None
    )
    return _build(
        subject=subject,
        public_key=public_key,
        issuer_name=subject,
        issuer_key=key,
        issuer_not_after=None,
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=path_length), True),
            (_CA_KEY_USAGE, True),
            (ski, False),
            (aki, False),
        ],
    )


def build_intermediate_ca(
    *,
    subject: x509.Name,
    public_key: PublicKey,
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    path_length: int | None,
    crl_url: str | None = None,
    ca_issuers_url: str | None = None,
    ocsp_url: str | None = None,
) -> x509.Certificate:
    """A CA signed by `issuer_cert`, with CDP and AIA pointing at the issuer's public URLs.

    `path_length` is written as given (None: unconstrained); the service derives the default
    with `child_path_length`. A parent with path length 0, or a value at or above the parent's,
    is refused.
    """
    _require_ca_subject(subject)
    require_matching_key(issuer_cert, issuer_key)
    parent_path_length = _issuer_basic_constraints(issuer_cert).path_length
    if path_length is not None or parent_path_length == 0:
        child_path_length(parent_path_length, path_length)
    return _build(
        subject=subject,
        public_key=public_key,
        issuer_name=issuer_cert.subject,
        issuer_key=issuer_key,
        issuer_not_after=issuer_cert.not_valid_after_utc,
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=path_length), True),
            (_CA_KEY_USAGE, True),
            (x509.SubjectKeyIdentifier.from_public_key(public_key), False),
            (authority_key_identifier(issuer_cert), False),
            *_url_extensions(crl_url, ca_issuers_url, ocsp_url),
        ],
    )


def build_leaf(
    *,
    certificate_type: CertificateType | str,
    subject: x509.Name,
    public_key: PublicKey,
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    sans: SanSet | None = None,
    crl_url: str | None = None,
    ca_issuers_url: str | None = None,
    ocsp_url: str | None = None,
) -> x509.Certificate:
    """An end-entity certificate (SPEC §7); type `ca` gives a CA certificate with path length 0.

    The SAN extension is critical when the subject is empty, as RFC 5280 requires.
    """
    kind = CertificateType(certificate_type)
    require_matching_key(issuer_cert, issuer_key)
    _issuer_basic_constraints(issuer_cert)
    if kind is CertificateType.CA:
        _require_ca_subject(subject)
        extensions: list[tuple[x509.ExtensionType, bool]] = [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_CA_KEY_USAGE, True),
        ]
    else:
        extensions = [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_leaf_key_usage(public_key), True),
            (x509.ExtendedKeyUsage(_EKUS[kind]), False),
        ]
    extensions += [
        (x509.SubjectKeyIdentifier.from_public_key(public_key), False),
        (authority_key_identifier(issuer_cert), False),
    ]
    if sans:
        extensions.append((x509.SubjectAlternativeName(sans.general_names()), len(subject) == 0))
    elif len(subject) == 0:
        raise InvalidSubject("A certificate needs a subject or at least one SAN.")
    extensions += _url_extensions(crl_url, ca_issuers_url, ocsp_url)
    return _build(
        subject=subject,
        public_key=public_key,
        issuer_name=issuer_cert.subject,
        issuer_key=issuer_key,
        issuer_not_after=issuer_cert.not_valid_after_utc,
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        extensions=extensions,
    )


def certificate_to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def certificate_to_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def load_certificate_der(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise InvalidPEM("Not a valid DER certificate.", field="certificate") from exc


def load_certificate_pem(pem: str | bytes) -> x509.Certificate:
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise InvalidPEM("Not a valid PEM certificate.", field="certificate") from exc


def chain_pem(certs: Iterable[x509.Certificate]) -> str:
    """Concatenated PEM, in the order given (leaf first, root last, by convention)."""
    return "".join(certificate_to_pem(cert) for cert in certs)


def authority_key_identifier(issuer_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """The AKI for things `issuer_cert` signs: its SKI, else one derived from its public key."""
    try:
        ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key())  # type: ignore[arg-type]
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def require_matching_key(issuer_cert: x509.Certificate, issuer_key: PrivateKey) -> None:
    """A programming error, not bad input: ValueError when the key does not fit the certificate."""
    if issuer_key.public_key() != issuer_cert.public_key():
        raise ValueError("The issuer key does not belong to the issuer certificate.")


def _build(
    *,
    subject: x509.Name,
    public_key: PublicKey,
    issuer_name: x509.Name,
    issuer_key: PrivateKey,
    issuer_not_after: datetime | None,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    key_spec_of(public_key)
    _require_aware(not_before, "not_before")
    _require_aware(not_after, "not_after")
    if not 0 < serial < SERIAL_LIMIT:
        raise X509Error("The serial number must be a positive integer of at most 159 bits.")
    if not_after <= not_before:
        raise InvalidValidity("not_after must be later than not_before.")
    if issuer_not_after is not None and not_after > issuer_not_after:
        raise InvalidValidity("The certificate would outlive its issuing CA.")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, signature_hash_for(issuer_key))


def _issuer_basic_constraints(issuer_cert: x509.Certificate) -> x509.BasicConstraints:
    try:
        constraints = issuer_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise X509Error("The issuer is not a CA certificate.", field="ca_id")
    return constraints


def _leaf_key_usage(public_key: PublicKey) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=key_spec_of(public_key).algorithm == "rsa",
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _url_extensions(
    crl_url: str | None, ca_issuers_url: str | None, ocsp_url: str | None
) -> list[tuple[x509.ExtensionType, bool]]:
    extensions: list[tuple[x509.ExtensionType, bool]] = []
    if crl_url:
        point = x509.DistributionPoint(full_name=[_uri(crl_url)], relative_name=None, reasons=None, crl_issuer=None)
        extensions.append((x509.CRLDistributionPoints([point]), False))
    access = []
    if ocsp_url:
        access.append(x509.AccessDescription(AuthorityInformationAccessOID.OCSP, _uri(ocsp_url)))
    if ca_issuers_url:
        access.append(x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, _uri(ca_issuers_url)))
    if access:
        extensions.append((x509.AuthorityInformationAccess(access), False))
    return extensions


def _uri(url: str) -> x509.UniformResourceIdentifier:
    if not url.isascii() or not url.isprintable() or " " in url or not url.startswith(("http://", "https://")):
        raise X509Error(f"{url!r} is not an http(s) URL.", field="crl_base_url")
    return x509.UniformResourceIdentifier(url)


def _require_ca_subject(subject: x509.Name) -> None:
    if len(subject) == 0:
        raise InvalidSubject("A CA certificate needs a non-empty subject.")


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise TypeError(f"{name} must be a timezone-aware datetime.")
