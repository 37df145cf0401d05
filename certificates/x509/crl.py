"""Certificate revocation lists: reason names and CRL building."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

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


def extend_crl(
    *,
    previous_der: bytes,
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey,
    added: Iterable[RevokedEntry],
    crl_number: int,
    this_update: datetime,
    next_update: datetime,
) -> bytes:
    """The DER of the CRL `build_crl` would make from `previous_der`'s entries followed by `added`,
    without decoding or encoding the previous entries again.

    A CRL is rebuilt on every revocation; re-encoding 100,000 entries costs about 0.7 s, most of it
    per entry. Here the new header and the added entries come from `build_crl` (a CRL of only
    those), the previous entries are copied as DER bytes into its list, and the result is signed
    again: a hash of the CRL and one signature. For RSA and Ed25519 keys the bytes are exactly
    those of a full rebuild. The caller must know that `previous_der` is this issuer's current CRL
    (signature and entries): it is trusted, not re-verified, apart from its structure.
    """
    template = crl_to_der(
        build_crl(
            issuer_cert=issuer_cert, issuer_key=issuer_key, entries=added, crl_number=crl_number,
            this_update=this_update, next_update=next_update,
        )
    )  # fmt: skip
    tbs, algorithm = _crl_parts(template)
    head, new_entries, tail = _tbs_parts(tbs)
    old_entries = _tbs_parts(_crl_parts(previous_der)[0])[1]
    entries = old_entries + new_entries
    tbs_body = head + (_der(0x30, entries) if entries else b"") + tail
    signed_tbs = _der(0x30, tbs_body)
    signature = _sign(issuer_key, signed_tbs)
    return _der(0x30, signed_tbs + algorithm + _der(0x03, b"\x00" + signature))


def _sign(key: PrivateKey, data: bytes) -> bytes:
    """A signature as `build_crl` makes it: PKCS#1 v1.5 for RSA, ECDSA, or pure Ed25519."""
    digest = signature_hash_for(key)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), digest)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(digest))
    return key.sign(data)  # Ed25519


def _tlv(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the DER element at `offset` (one-byte tags)."""
    if offset + 2 > len(data):
        raise ValueError("truncated DER")
    tag, first = data[offset], data[offset + 1]
    if first < 0x80:
        start, length = offset + 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise ValueError("unsupported DER length")
        start = offset + 2 + count
        length = int.from_bytes(data[offset + 2 : start], "big")
    if start + length > len(data):
        raise ValueError("truncated DER")
    return tag, start, start + length


def _der(tag: int, value: bytes) -> bytes:
    length = len(value)
    if length < 0x80:
        return bytes((tag, length)) + value
    size = (length.bit_length() + 7) // 8
    return bytes((tag, 0x80 | size)) + length.to_bytes(size, "big") + value


def _crl_parts(der: bytes) -> tuple[bytes, bytes]:
    """(the whole tbsCertList element, the signatureAlgorithm element) of a CertificateList."""
    tag, start, end = _tlv(der, 0)
    if tag != 0x30 or end != len(der):
        raise ValueError("not a DER CertificateList")
    tbs_tag, _, tbs_end = _tlv(der, start)
    alg_tag, _, alg_end = _tlv(der, tbs_end)
    if tbs_tag != 0x30 or alg_tag != 0x30:
        raise ValueError("not a DER CertificateList")
    return der[start:tbs_end], der[tbs_end:alg_end]


def _tbs_parts(tbs: bytes) -> tuple[bytes, bytes, bytes]:
    """A tbsCertList's contents split around its revokedCertificates list: (the fields before it,
    the list's contents — the entries' DER, back to back — and the fields after it)."""
    tag, start, end = _tlv(tbs, 0)
    if tag != 0x30:
        raise ValueError("not a DER tbsCertList")
    offset, times = start, 0
    while offset < end:
        tag, value_start, value_end = _tlv(tbs, offset)
        if tag in (0x17, 0x18):  # thisUpdate, nextUpdate
            times += 1
        elif times and tag == 0x30:  # the first SEQUENCE after the dates: revokedCertificates
            return tbs[start:offset], tbs[value_start:value_end], tbs[value_end:end]
        elif times:  # crlExtensions ([0]): there is no list
            return tbs[start:offset], b"", tbs[offset:end]
        offset = value_end
    if not times:
        raise ValueError("a tbsCertList without thisUpdate")
    return tbs[start:end], b"", b""
