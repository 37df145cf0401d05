"""The X.509 layer: keys, names, certificates, CSRs, CRLs, OCSP and PKCS#12 over cryptography.

Plain Python: no Django, no settings and no clock; `now`, keys, serials and validity are passed in.
"""

from __future__ import annotations

from .crl import REASON_NAMES, RevokedEntry, build_crl, build_crl_der, crl_to_der, crl_to_pem, extend_crl, parse_reason
from .csr import build_csr, csr_public_key, csr_sans, csr_to_pem, load_csr, verify_csr_signature
from .errors import (
    InvalidCSR,
    InvalidKeySpec,
    InvalidOCSPRequest,
    InvalidPathLength,
    InvalidPEM,
    InvalidSAN,
    InvalidSubject,
    InvalidValidity,
    X509Error,
)
from .issue import (
    CertificateType,
    build_intermediate_ca,
    build_leaf,
    build_root_ca,
    certificate_to_der,
    certificate_to_pem,
    chain_pem,
    child_path_length,
    clamp_validity,
    load_certificate_pem,
)
from .keys import (
    KeySpec,
    PrivateKey,
    PublicKey,
    generate_private_key,
    key_size_of,
    key_spec_of,
    load_private_key_pem,
    parse_key_spec,
    private_key_to_pem,
    public_key_fingerprint,
    signature_hash_for,
)
from .names import common_name_of, name_to_rfc4514, parse_slug, parse_subject, slugify_ca
from .ocsp import (
    OCSPLookup,
    OCSPStatus,
    build_ocsp_response,
    malformed_response,
    parse_ocsp_get_request,
    parse_ocsp_request,
    request_matches_issuer,
)
from .pkcs12 import to_pkcs12
from .san import SanSet, build_sans
from .serials import random_serial, serial_from_hex, serial_to_hex

__all__ = [
    "REASON_NAMES",
    "CertificateType",
    "InvalidCSR",
    "InvalidKeySpec",
    "InvalidOCSPRequest",
    "InvalidPEM",
    "InvalidPathLength",
    "InvalidSAN",
    "InvalidSubject",
    "InvalidValidity",
    "KeySpec",
    "OCSPLookup",
    "OCSPStatus",
    "PrivateKey",
    "PublicKey",
    "RevokedEntry",
    "SanSet",
    "X509Error",
    "build_crl",
    "build_crl_der",
    "build_csr",
    "build_intermediate_ca",
    "build_leaf",
    "build_ocsp_response",
    "build_root_ca",
    "build_sans",
    "certificate_to_der",
    "certificate_to_pem",
    "chain_pem",
    "child_path_length",
    "clamp_validity",
    "common_name_of",
    "crl_to_der",
    "crl_to_pem",
    "csr_public_key",
    "csr_sans",
    "csr_to_pem",
    "extend_crl",
    "generate_private_key",
    "key_size_of",
    "key_spec_of",
    "load_certificate_pem",
    "load_csr",
    "load_private_key_pem",
    "malformed_response",
    "name_to_rfc4514",
    "parse_key_spec",
    "parse_ocsp_get_request",
    "parse_ocsp_request",
    "parse_reason",
    "parse_slug",
    "parse_subject",
    "private_key_to_pem",
    "public_key_fingerprint",
    "random_serial",
    "request_matches_issuer",
    "serial_from_hex",
    "serial_to_hex",
    "signature_hash_for",
    "slugify_ca",
    "to_pkcs12",
    "verify_csr_signature",
]
