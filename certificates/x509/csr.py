"""Loading and checking certificate signing requests (and building them, for tests and tools)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from .errors import InvalidCSR, InvalidKeySpec
from .keys import PrivateKey, PublicKey, key_spec_of, signature_hash_for
from .san import normalize_ip_address

MAX_CSR_PEM_LENGTH = 64 * 1024


def load_csr(pem: str | bytes) -> x509.CertificateSigningRequest:
    """Parse a PEM CSR; InvalidCSR when it is too long or not a CSR."""
    if len(pem) > MAX_CSR_PEM_LENGTH:
        raise InvalidCSR(f"The CSR is longer than {MAX_CSR_PEM_LENGTH // 1024} KiB.")
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_csr(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidCSR("The CSR is not a valid PEM certificate signing request.") from exc


def verify_csr_signature(csr: x509.CertificateSigningRequest) -> None:
    """InvalidCSR unless the CSR is signed by the key it carries."""
    try:
        valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidCSR("The CSR signature cannot be checked.") from exc
    if not valid:
        raise InvalidCSR("The CSR signature is not valid.")


def csr_public_key(csr: x509.CertificateSigningRequest) -> PublicKey:
    """The CSR's public key; InvalidCSR when it is of a type or size this server refuses."""
    try:
        key = csr.public_key()
        key_spec_of(key)
    except (ValueError, UnsupportedAlgorithm) as exc:
        message = exc.message if isinstance(exc, InvalidKeySpec) else "unreadable public key"
        raise InvalidCSR(f"The CSR's key is not accepted: {message}") from exc
    assert isinstance(key, PublicKey)
    return key


def csr_subject(csr: x509.CertificateSigningRequest) -> x509.Name:
    """The CSR's subject as cryptography reads it; InvalidCSR when it cannot be read at all.

    Unchecked: pass it through `check_subject`. cryptography warns of the over-long values it
    reads (a CN past 64 bytes, a C that is not two characters); check_subject refuses those.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Attribute's length", category=UserWarning)
            return csr.subject
    except (ValueError, TypeError) as exc:  # TypeError: a BitString value under another type than x500UniqueIdentifier
        raise InvalidCSR("The CSR's subject cannot be parsed.") from exc


def certificate_subject(cert: x509.Certificate) -> x509.Name:
    """A stored certificate's subject, read as `csr_subject` reads a CSR's (for renewals, which
    pass it through `check_subject` again: a certificate made before those rules may break them)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Attribute's length", category=UserWarning)
        return cert.subject


def csr_sans(csr: x509.CertificateSigningRequest) -> tuple[list[str], list[str], list[str]]:
    """(dns, ips, emails) from the CSR's requested subjectAltName, as strings, unvalidated."""
    try:
        extension = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return [], [], []
    except (ValueError, x509.DuplicateExtension) as exc:
        raise InvalidCSR("The CSR has malformed extensions.") from exc
    san = extension.value
    return (
        san.get_values_for_type(x509.DNSName),
        [str(address) for address in san.get_values_for_type(x509.IPAddress)],
        san.get_values_for_type(x509.RFC822Name),
    )


def build_csr(
    *,
    key: PrivateKey,
    subject: x509.Name,
    dns: Iterable[str] = (),
    ips: Iterable[str] = (),
    emails: Iterable[str] = (),
) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
    names += [x509.IPAddress(normalize_ip_address(address)) for address in ips]
    names += [x509.RFC822Name(email) for email in emails]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, signature_hash_for(key))


def csr_to_pem(csr: x509.CertificateSigningRequest) -> str:
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")
