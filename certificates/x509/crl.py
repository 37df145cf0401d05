"""Certificate revocation lists: reason names and CRL building."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from .issue import authority_key_identifier, require_matching_key
from .keys import PrivateKey, signature_hash_for

# DER cut into parts of the same kind: slices of bytes, or views into a buffer that is not copied.
_Bytes = TypeVar("_Bytes", bytes, memoryview)

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
    head, new_entries, tail, algorithm = _built_parts(
        issuer_cert=issuer_cert, issuer_key=issuer_key, entries=added, crl_number=crl_number,
        this_update=this_update, next_update=next_update,
    )  # fmt: skip
    # Cut through a view: the previous entries are copied once, into the new CRL's buffer.
    entries = bytearray(_tbs_parts(_crl_parts(memoryview(previous_der))[0])[1])
    entries += new_entries
    return _signed_crl(issuer_key, head, entries, tail, algorithm)


def build_crl_der(
    *,
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey,
    entries: Iterable[RevokedEntry],
    crl_number: int,
    this_update: datetime,
    next_update: datetime,
) -> bytes:
    """The DER of `build_crl` for the same arguments, with each entry encoded here, straight into
    one buffer, instead of becoming an object first.

    `build_crl` makes a `RevokedCertificate` per entry and then encodes the list: for 100,000
    entries that holds about 40 MB, eight times the CRL. Here the header comes from `build_crl` (a
    CRL without entries), the entries are written as DER bytes back to back (RFC 5280 §5.1: serial,
    revocation date as UTCTime before 2050 and GeneralizedTime from then on, and the reason code
    extension when there is a reason other than unspecified), and the whole is signed as
    `extend_crl` signs. For RSA and Ed25519 keys the bytes are exactly those of `build_crl`.
    """
    head, _, tail, algorithm = _built_parts(
        issuer_cert=issuer_cert, issuer_key=issuer_key, entries=(), crl_number=crl_number,
        this_update=this_update, next_update=next_update,
    )  # fmt: skip
    encoded = bytearray()
    for entry in entries:
        encoded += _entry_der(entry)
    return _signed_crl(issuer_key, head, encoded, tail, algorithm)


# RFC 5280 §5.3.1 CRLReason codes (7 is not used).
REASON_CODES: dict[x509.ReasonFlags, int] = {
    x509.ReasonFlags.unspecified: 0,
    x509.ReasonFlags.key_compromise: 1,
    x509.ReasonFlags.ca_compromise: 2,
    x509.ReasonFlags.affiliation_changed: 3,
    x509.ReasonFlags.superseded: 4,
    x509.ReasonFlags.cessation_of_operation: 5,
    x509.ReasonFlags.certificate_hold: 6,
    x509.ReasonFlags.remove_from_crl: 8,
    x509.ReasonFlags.privilege_withdrawn: 9,
    x509.ReasonFlags.aa_compromise: 10,
}
_REASON_OID = bytes.fromhex("0603551d15")  # id-ce-cRLReasons, 2.5.29.21
# crlEntryExtensions holding only a non-critical reasonCode (DER leaves out critical=FALSE);
# none for unspecified, which RFC 5280 §5.3.1 asks to leave out.
_REASON_EXTENSIONS: dict[x509.ReasonFlags, bytes] = {
    flag: b"\x30\x0c\x30\x0a" + _REASON_OID + b"\x04\x03\x0a\x01" + bytes((code,))
    for flag, code in REASON_CODES.items()
    if flag is not x509.ReasonFlags.unspecified
}


def _entry_der(entry: RevokedEntry) -> bytes:
    serial = entry.serial
    moment = entry.revoked_at
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    if 1950 <= moment.year < 2050:
        when = b"\x17\x0d" + moment.strftime("%y%m%d%H%M%SZ").encode()
    else:
        when = b"\x18\x0f" + f"{moment.year:04d}{moment:%m%d%H%M%S}Z".encode()
    body = _der(0x02, serial.to_bytes(serial.bit_length() // 8 + 1, "big")) + when
    if entry.reason is not None:
        body += _REASON_EXTENSIONS.get(entry.reason, b"")  # unspecified: left out
    return _der(0x30, body)


def _built_parts(**arguments: Any) -> tuple[bytes, bytes, bytes, bytes]:
    """`build_crl(**arguments)` in DER, cut into (the tbsCertList's fields before its entries, the
    entries, the fields after them, the signatureAlgorithm element)."""
    tbs, algorithm = _crl_parts(crl_to_der(build_crl(**arguments)))
    return (*_tbs_parts(tbs), algorithm)


def _signed_crl(key: PrivateKey, head: bytes, entries: bytearray, tail: bytes, algorithm: bytes) -> bytes:
    """A CertificateList of a tbsCertList made of `head`, the revokedCertificates list of the
    `entries` (left out when empty) and `tail`, signed with `key`. It is assembled in `entries`
    itself, which the caller hands over: the headers go in front of the entries and the rest after
    them, the signature is made over that buffer, and the returned bytes are the one copy made."""
    size = len(entries)
    listed = _header(0x30, size) if size else b""
    entries[0:0] = _header(0x30, len(head) + len(listed) + size + len(tail)) + head + listed
    entries += tail  # the whole signed tbsCertList
    signature = _der(0x03, b"\x00" + _sign(key, entries))
    entries[0:0] = _header(0x30, len(entries) + len(algorithm) + len(signature))
    entries += algorithm
    entries += signature
    return bytes(entries)


def _sign(key: PrivateKey, data: bytes | bytearray) -> bytes:
    """A signature as `build_crl` makes it: PKCS#1 v1.5 for RSA, ECDSA, or pure Ed25519."""
    digest = signature_hash_for(key)
    if isinstance(key, rsa.RSAPrivateKey):
        assert digest is not None  # None only for Ed25519
        # cryptography annotates RSA's `data` as bytes, but takes any buffer as ECDSA and Ed25519 do:
        # the bytearray is signed in place, without a copy of the CRL.
        return key.sign(data, padding.PKCS1v15(), digest)  # type: ignore[arg-type]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        assert digest is not None  # None only for Ed25519
        return key.sign(data, ec.ECDSA(digest))
    return key.sign(data)  # Ed25519


def _tlv(data: bytes | memoryview, offset: int) -> tuple[int, int, int]:
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


def _header(tag: int, length: int) -> bytes:
    if length < 0x80:
        return bytes((tag, length))
    size = (length.bit_length() + 7) // 8
    return bytes((tag, 0x80 | size)) + length.to_bytes(size, "big")


def _der(tag: int, value: bytes) -> bytes:
    return _header(tag, len(value)) + value


def _crl_parts(der: _Bytes) -> tuple[_Bytes, _Bytes]:
    """(the whole tbsCertList element, the signatureAlgorithm element) of a CertificateList."""
    tag, start, end = _tlv(der, 0)
    if tag != 0x30 or end != len(der):
        raise ValueError("not a DER CertificateList")
    tbs_tag, _, tbs_end = _tlv(der, start)
    alg_tag, _, alg_end = _tlv(der, tbs_end)
    if tbs_tag != 0x30 or alg_tag != 0x30:
        raise ValueError("not a DER CertificateList")
    return der[start:tbs_end], der[tbs_end:alg_end]


def _tbs_parts(tbs: _Bytes) -> tuple[_Bytes, _Bytes, _Bytes]:
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
            return tbs[start:offset], tbs[offset:offset], tbs[offset:end]
        offset = value_end
    if not times:
        raise ValueError("a tbsCertList without thisUpdate")
    return tbs[start:end], tbs[end:end], tbs[end:end]
