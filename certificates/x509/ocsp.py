"""OCSP (RFC 6960): parsing requests and building signed responses."""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from .errors import InvalidOCSPRequest
from .issue import require_matching_key
from .keys import PrivateKey, signature_hash_for

MAX_REQUEST_LENGTH = 64 * 1024


class OCSPStatus(enum.Enum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class OCSPLookup:
    """What the database knows about the requested serial."""

    status: OCSPStatus
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None


GOOD = OCSPLookup(OCSPStatus.GOOD)
UNKNOWN = OCSPLookup(OCSPStatus.UNKNOWN)

_CERT_STATUS = {
    OCSPStatus.GOOD: ocsp.OCSPCertStatus.GOOD,
    OCSPStatus.REVOKED: ocsp.OCSPCertStatus.REVOKED,
    OCSPStatus.UNKNOWN: ocsp.OCSPCertStatus.UNKNOWN,
}


def parse_ocsp_request(der: bytes) -> ocsp.OCSPRequest:
    """Parse a DER OCSP request (the body of a POST); InvalidOCSPRequest when malformed."""
    if len(der) > MAX_REQUEST_LENGTH:
        raise InvalidOCSPRequest("The OCSP request is too long.")
    try:
        request = ocsp.load_der_ocsp_request(der)
        request.hash_algorithm  # noqa: B018 - an unsupported CertID hash fails here, not later
    except NotImplementedError as exc:
        raise InvalidOCSPRequest("Only one certificate per OCSP request is supported.") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidOCSPRequest("The OCSP request is malformed.") from exc
    return request


def parse_ocsp_get_request(path_segment: str) -> ocsp.OCSPRequest:
    """Parse the URL-encoded base64 request of an OCSP GET (RFC 6960 Appendix A.1)."""
    try:
        der = base64.b64decode(unquote(path_segment), validate=True)
    except (ValueError, binascii.Error) as exc:
        raise InvalidOCSPRequest("The OCSP request is not valid base64.") from exc
    return parse_ocsp_request(der)


def request_matches_issuer(request: ocsp.OCSPRequest, issuer_cert: x509.Certificate) -> bool:
    """Whether the request's issuer name and key hashes identify `issuer_cert` (RFC 6960 §4.1.1)."""
    name_hash = hashes.Hash(request.hash_algorithm)
    name_hash.update(issuer_cert.subject.public_bytes())
    key_hash = hashes.Hash(request.hash_algorithm)
    key_hash.update(_subject_public_key_bits(issuer_cert))
    return name_hash.finalize() == request.issuer_name_hash and key_hash.finalize() == request.issuer_key_hash


def build_ocsp_response(
    *,
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey,
    request: ocsp.OCSPRequest,
    lookup: OCSPLookup,
    this_update: datetime,
    next_update: datetime | None,
) -> bytes:
    """A DER response signed by the CA itself, echoing the request's CertID and nonce.

    A request naming another issuer gets `unknown`, whatever the lookup says.
    """
    require_matching_key(issuer_cert, issuer_key)
    if not request_matches_issuer(request, issuer_cert):
        lookup = UNKNOWN
    revoked = lookup.status is OCSPStatus.REVOKED
    if revoked and lookup.revoked_at is None:
        raise ValueError("A revoked lookup needs revoked_at.")
    reason = lookup.reason if revoked and lookup.reason is not x509.ReasonFlags.unspecified else None
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=request.hash_algorithm,
            cert_status=_CERT_STATUS[lookup.status],
            this_update=this_update,
            next_update=next_update,
            revocation_time=lookup.revoked_at if revoked else None,
            revocation_reason=reason,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer_cert)
    )
    nonce = _nonce(request)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    response = builder.sign(issuer_key, signature_hash_for(issuer_key))
    return response.public_bytes(serialization.Encoding.DER)


def malformed_response() -> bytes:
    """The unsigned `malformedRequest` answer to a request that cannot be parsed."""
    response = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    return response.public_bytes(serialization.Encoding.DER)


def _subject_public_key_bits(cert: x509.Certificate) -> bytes:
    """The contents of the subjectPublicKey BIT STRING, which the CertID key hash covers."""
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    # SEQUENCE { SEQUENCE algorithm, BIT STRING subjectPublicKey }
    _, position = _der_header(spki, 0)
    length, algorithm_start = _der_header(spki, position)
    _, key_start = _der_header(spki, algorithm_start + length)
    return spki[key_start + 1 :]  # skip the unused-bits octet, always 0 here


def _der_header(der: bytes, position: int) -> tuple[int, int]:
    """(content length, content start) of the DER element at `position`."""
    length = der[position + 1]
    start = position + 2
    if length & 0x80:
        octets = length & 0x7F
        length = int.from_bytes(der[start : start + octets], "big")
        start += octets
    return length, start


def _nonce(request: ocsp.OCSPRequest) -> bytes | None:
    try:
        return request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None
    except (ValueError, x509.DuplicateExtension) as exc:
        raise InvalidOCSPRequest("The OCSP request has malformed extensions.") from exc
