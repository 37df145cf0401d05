"""Certificate revocation lists: reason names and CRL building."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .issue import authority_key_identifier, require_matching_key
from .keys import PrivateKey, signature_hash_for

REASON_NAMES: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "ca_compromise": x509.ReasonFlags.ca_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "certificate_hold": x509.ReasonFlags.certificate_hold,
    "remove_from_crl": x509.ReasonFlags.remove_from_crl,
    "privilege_withdrawn": x509.ReasonFlags.privilege_withdrawn,
    "aa_compromise": x509.ReasonFlags.aa_compromise,
}
_LOOKUP = {name.replace("_", ""): flag for name, flag in REASON_NAMES.items()}
_SEPARATORS_RE = re.compile(r"[\s_-]+")


@dataclass(frozen=True, slots=True)
class RevokedEntry:
    serial: int
    revoked_at: datetime
    reason: x509.ReasonFlags | None = None


def parse_reason(text: str | None) -> x509.ReasonFlags | None:
    """The RFC 5280 reason a text names, or None for free text.

    Case, spaces, hyphens and underscores do not matter: `key_compromise`, `keyCompromise` and
    `Key Compromise` all name keyCompromise.
    """
    if not text:
        return None
    return _LOOKUP.get(_SEPARATORS_RE.sub("", text).lower())


def build_crl(
    *,
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey,
    entries: Iterable[RevokedEntry],
    crl_number: int,
    this_update: datetime,
    next_update: datetime,
) -> x509.CertificateRevocationList:
    """A CRL with CRLNumber, the issuer's AKI, and a reason code on each entry that has one.

    An `unspecified` reason is left out, as RFC 5280 §5.3.1 asks.
    """
    require_matching_key(issuer_cert, issuer_key)
    if next_update <= this_update:
        raise ValueError("next_update must be later than this_update.")
    revoked = [_revoked_certificate(entry) for entry in entries]
    # The list goes in through the constructor: add_revoked_certificate copies the whole list
    # on every call, which is quadratic for a large CRL.
    builder = (
        x509.CertificateRevocationListBuilder(revoked_certificates=revoked)
        .issuer_name(issuer_cert.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(authority_key_identifier(issuer_cert), critical=False)
    )
    return builder.sign(issuer_key, signature_hash_for(issuer_key))


def crl_to_der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)


def crl_to_pem(crl: x509.CertificateRevocationList) -> str:
    return crl.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _revoked_certificate(entry: RevokedEntry) -> x509.RevokedCertificate:
    builder = x509.RevokedCertificateBuilder().serial_number(entry.serial).revocation_date(entry.revoked_at)
    if entry.reason is not None and entry.reason is not x509.ReasonFlags.unspecified:
        builder = builder.add_extension(x509.CRLReason(entry.reason), critical=False)
    return builder.build()
