"""Certificates under a CA: issue, sign a CSR, renew, and export key, PKCS#12 and chain (SPEC §7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.policy import Action, require
from audit.models import AuditAction
from audit.services import audit_record
from certificates import keystore
from certificates import x509 as pki
from certificates.models import Certificate, CertificateAuthority, CertificateType
from certificates.services.common import (
    Issued,
    ca_chain,
    ca_material,
    check_not_revoked,
    creator,
    hold_ca,
    public_urls,
    refuse_if_revoked,
    valid_days_of,
    validity_under,
    x509_invalid,
)
from certificates.services.policy import enforce_issuance_policy
from pkiserver.errors import Conflict, Invalid, NotFound

if TYPE_CHECKING:
    from accounts.actors import Actor
    from certificates.x509.keys import Algorithm

SERIAL_ATTEMPTS = 5


@dataclass(frozen=True)
class CertRequest:
    certificate_type: str
    common_name: str | None = None
    subject_dn: str | None = None
    key_algorithm: str | None = None
    key_size: int | None = None
    valid_days: int | None = None
    include_private_key: bool = True
    san_dns_names: tuple[str, ...] | None = None
    san_ip_addresses: tuple[str, ...] | None = None
    san_email_addresses: tuple[str, ...] | None = None


def _subject(subject_dn: str | None, common_name: str | None, fallback: Any = None) -> Any:
    """The subject Name of a request (`pki.subject_for`), or a 400."""
    try:
        return pki.subject_for(subject_dn, common_name, fallback)
    except pki.X509Error as exc:
        raise x509_invalid(exc) from None


def _check_type(certificate_type: str) -> str:
    if certificate_type not in CertificateType.values:
        raise Invalid(f"certificate_type must be one of {', '.join(CertificateType.values)}.", field="certificate_type")
    return certificate_type


def _issue(*, ca: CertificateAuthority, **order: Any) -> tuple[Certificate, list[str]]:
    """Sign and save one certificate under `ca`; the caller has checked the policy. `order`:
    the arguments of `_issue_once` but the CA.

    The certificate is signed from the CA as the caller read it, and kept (with its audit entry)
    only if the CA still exists, is not revoked and takes leaf certificates once the row is
    written (see `_ca_still_issues`). When it does not, the CA is read again: the refusal names
    what changed. A serial already taken under the CA (never seen: serials are 159 random bits)
    makes the write fail; the issuance is signed again with a new serial."""
    for attempt in range(1, SERIAL_ATTEMPTS + 1):
        try:
            with transaction.atomic():  # a savepoint inside a caller's transaction
                issued = _issue_once(ca=ca, **order)
        except IntegrityError:
            if not CertificateAuthority.objects.filter(pk=ca.pk).exists():
                raise NotFound("The issuing CA no longer exists.") from None
            if attempt == SERIAL_ATTEMPTS:
                raise
            continue
        if issued is not None:
            return issued
        fresh = CertificateAuthority.objects.filter(pk=ca.pk).first()
        if fresh is None:
            raise NotFound("The issuing CA no longer exists.")
        _check_issuing_ca(fresh, order["certificate_type"])  # raises: the CA was closed to leaves
        ca = fresh  # closed and opened again in between: sign from what it is now
    raise Conflict("The issuing CA kept changing during the issuance; try again.", code="ca_changed")


def _check_issuing_ca(ca: CertificateAuthority, certificate_type: str) -> None:
    refuse_if_revoked(ca)
    if not ca.allow_leaf_certs:
        raise Invalid(f"CA '{ca.name}' does not allow leaf certificates (allow_leaf_certs is false).", field="ca_id")
    if certificate_type == CertificateType.CA and ca.path_length == 0:
        # Any path through such a certificate would break the issuer's path length constraint.
        raise Invalid(f"CA '{ca.name}' has path length 0 and cannot sign CA certificates.", field="certificate_type")


def _ca_still_issues(pk: int) -> bool:
    """Whether the CA still exists, is not revoked and takes leaf certificates, holding it so
    until the commit (`hold_ca`): a delete, its revocation or a child CA's creation waits for this
    issuance or is seen here, while issuances under one CA go on side by side."""
    state = hold_ca(pk)
    return state is not None and state == (True, False)


def _issue_once(
    *,
    actor: Actor,
    ca: CertificateAuthority,
    certificate_type: str,
    subject: Any,
    public_key: Any,
    sans: Any,
    valid_days: int,
    request_base: str,
    stored_key_pem: str | None,
    audit_action: AuditAction,
    from_csr: bool,
    renewed_from: Certificate | None = None,
) -> tuple[Certificate, list[str]] | None:
    """The certificate and its warnings, or None (nothing written) when the CA changed before the
    write (`_issue`). Call in a transaction."""
    _check_issuing_ca(ca, certificate_type)
    warnings: list[str] = []
    now = timezone.now().replace(microsecond=0)
    not_after = validity_under(ca, "certificate", now, valid_days, warnings)
    cert = _signed_leaf(ca, certificate_type, subject, public_key, sans, now, not_after, request_base)
    if not _ca_still_issues(ca.pk):
        return None
    obj = Certificate.objects.create(
        common_name=pki.common_name_of(subject) or (sans.dns_names or sans.emails or ("",))[0],
        subject_dn=pki.name_to_rfc4514(subject),
        certificate_type=certificate_type,
        key_algorithm=pki.key_spec_of(public_key).algorithm,
        key_size=pki.key_size_of(public_key),
        valid_days=(not_after - now).days if warnings else valid_days,
        certificate=pki.certificate_to_pem(cert),
        private_key=keystore.encrypt(stored_key_pem) if stored_key_pem else None,
        serial_number=pki.serial_to_hex(cert.serial_number),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        issuer=ca,
        organization_id=ca.organization_id,
        created_by_user=creator(actor),
        san_dns_names=list(sans.dns_names) if sans else [],
        san_ip_addresses=sans.ip_strings() if sans else [],
        san_email_addresses=list(sans.emails) if sans else [],
        from_csr=from_csr,
        renewed_from=renewed_from,
    )
    audit_record(
        action=audit_action, actor=actor, target=obj,
        detail=f"{_described(certificate_type)} {obj.common_name} serial {obj.serial_number} from CA {ca.name}"
        + (f", renewing certificate {renewed_from.pk}" if renewed_from else ""),
    )  # fmt: skip
    return obj, warnings


def _signed_leaf(
    ca: CertificateAuthority, certificate_type: str, subject: Any, public_key: Any, sans: Any, now: Any,
    not_after: Any, request_base: str,
) -> Any:  # fmt: skip
    """The certificate `ca` signs for `public_key`, with a new random serial."""
    ca_cert, ca_key = ca_material(ca)
    urls = public_urls(ca, request_base)
    try:
        return pki.build_leaf(
            certificate_type=certificate_type, subject=subject, public_key=public_key,
            issuer_cert=ca_cert, issuer_key=ca_key, serial=pki.random_serial(), not_before=now,
            not_after=not_after, sans=sans, crl_url=urls["crl"], ca_issuers_url=urls["ca_issuers"],
            ocsp_url=urls["ocsp"],
        )  # fmt: skip
    except pki.X509Error as exc:
        raise x509_invalid(exc) from None


def _described(certificate_type: str) -> str:
    if certificate_type == CertificateType.CA:
        return "CA certificate (CA:TRUE, a subordinate CA)"
    return f"{certificate_type} certificate"


def _require_issuance(actor: Actor, ca: CertificateAuthority, kind: str) -> None:
    """The policy for signing a `kind` certificate under `ca`: CA:TRUE also needs the CA-creation
    permission (SPEC §5); then the CA and those above it must not be revoked."""
    require(actor, Action.CERT_CREATE, ca)
    if kind == CertificateType.CA:
        require(
            actor, Action.CERT_CREATE_CA, ca,
            message="A certificate of type 'ca' (CA:TRUE) is a subordinate CA: it needs the CA-creation permission too",
        )  # fmt: skip
    check_not_revoked(ca)


def certificate_issue(*, actor: Actor, ca: CertificateAuthority, data: CertRequest, request_base: str) -> Issued:
    kind = _check_type(data.certificate_type)
    _require_issuance(actor, ca, kind)
    subject = _subject(data.subject_dn, data.common_name)
    try:
        sans = pki.build_sans(
            kind, pki.common_name_of(subject), data.san_dns_names or (), data.san_ip_addresses or (),
            data.san_email_addresses or (), subject_emails=pki.subject_emails(subject),
        )  # fmt: skip
        spec = pki.parse_key_spec(data.key_algorithm, data.key_size, settings.CERT_KEY_SIZE)
    except pki.X509Error as exc:
        raise x509_invalid(exc) from None
    valid_days = valid_days_of(data.valid_days, settings.CERT_DAYS)
    enforce_issuance_policy(
        actor=actor, ca=ca, certificate_type=kind, subject=subject, sans=sans, valid_days=valid_days
    )
    _check_issuing_ca(ca, kind)  # before the slow key generation; the write checks again
    key = pki.generate_private_key(spec)  # slow: before the write
    key_pem = pki.private_key_to_pem(key)
    obj, warnings = _issue(
        actor=actor, ca=ca, certificate_type=kind, subject=subject, public_key=key.public_key(), sans=sans,
        valid_days=valid_days, request_base=request_base,
        stored_key_pem=key_pem if data.include_private_key else None,
        audit_action=AuditAction.CERT_CREATE, from_csr=False,
    )  # fmt: skip
    return Issued(obj, key_pem if data.include_private_key else None, warnings)


def _load_csr(csr_pem: str) -> Any:
    try:
        csr = pki.load_csr(csr_pem)
        pki.verify_csr_signature(csr)
        pki.csr_public_key(csr)  # refuses key types we cannot certify
        # A CSR whose subject breaks RFC 5280's rules is refused, even where subject_dn replaces it.
        pki.check_subject(pki.csr_subject(csr), field="csr")
    except pki.X509Error as exc:
        raise x509_invalid(exc) from None
    return csr


def certificate_sign_csr(
    *, actor: Actor, ca: CertificateAuthority, csr_pem: str, data: CertRequest, request_base: str
) -> Issued:
    kind = _check_type(data.certificate_type)
    _require_issuance(actor, ca, kind)
    csr = _load_csr(csr_pem)
    subject = _subject(data.subject_dn, data.common_name, fallback=csr.subject)
    try:
        csr_dns, csr_ips, csr_emails = pki.csr_sans(csr)
        sans = pki.build_sans(
            kind,
            pki.common_name_of(subject),
            csr_dns if data.san_dns_names is None else data.san_dns_names,
            csr_ips if data.san_ip_addresses is None else data.san_ip_addresses,
            csr_emails if data.san_email_addresses is None else data.san_email_addresses,
            subject_emails=pki.subject_emails(subject),
        )
    except pki.X509Error as exc:
        raise x509_invalid(exc) from None
    valid_days = valid_days_of(data.valid_days, settings.CERT_DAYS)
    enforce_issuance_policy(
        actor=actor, ca=ca, certificate_type=kind, subject=subject, sans=sans, valid_days=valid_days
    )
    obj, warnings = _issue(
        actor=actor, ca=ca, certificate_type=kind, subject=subject, public_key=pki.csr_public_key(csr), sans=sans,
        valid_days=valid_days, request_base=request_base, stored_key_pem=None,
        audit_action=AuditAction.CERT_SIGN_CSR, from_csr=True,
    )  # fmt: skip
    return Issued(obj, None, warnings)


def certificate_renew(*, actor: Actor, cert: Certificate, csr_pem: str | None, request_base: str) -> Issued:
    ca = cert.issuer
    _require_issuance(actor, ca, cert.certificate_type)
    if cert.revoked_at is not None:
        raise Conflict(
            f"Certificate {cert.pk} is revoked and cannot be renewed: issue a new certificate (with a new key).",
            code="revoked",
        )
    original = pki.load_certificate_pem(cert.certificate)
    try:  # a certificate made before today's subject rules gets a 400, not a repeat of its subject
        subject = pki.check_subject(pki.certificate_subject(original), field="subject_dn")
    except pki.X509Error as exc:
        raise x509_invalid(exc) from None
    sans = pki.build_sans(
        CertificateType.CA if cert.certificate_type == CertificateType.CA else cert.certificate_type,
        None, cert.san_dns_names, cert.san_ip_addresses, cert.san_email_addresses,
    )  # fmt: skip
    days = max(1, (cert.not_after - cert.not_before).days) if cert.valid_days < 1 else cert.valid_days
    enforce_issuance_policy(
        actor=actor, ca=ca, certificate_type=cert.certificate_type, subject=subject, sans=sans, valid_days=days
    )
    public_key, key_pem = _renewal_key(cert, csr_pem)
    obj, warnings = _issue(
        actor=actor, ca=ca, certificate_type=cert.certificate_type, subject=subject, public_key=public_key,
        sans=sans, valid_days=days, request_base=request_base,
        stored_key_pem=key_pem if cert.private_key else None,  # keep the original's choice
        audit_action=AuditAction.CERT_RENEW, from_csr=key_pem is None, renewed_from=cert,
    )  # fmt: skip
    return Issued(obj, key_pem, warnings)


def _renewal_key(cert: Certificate, csr_pem: str | None) -> tuple[Any, str | None]:
    """The renewal's public key and, when the server makes it, its private key's PEM."""
    if cert.from_csr or csr_pem:
        if not csr_pem:
            raise Invalid(
                "This certificate was issued from a CSR: renewing it needs a new `csr`.",
                field="csr",
                code="csr_required",
            )
        return pki.csr_public_key(_load_csr(csr_pem)), None
    algorithm = cast("Algorithm", cert.key_algorithm)  # a stored certificate's: one of KeyAlgorithm's values
    spec = pki.KeySpec(algorithm, None if algorithm == "ed25519" else cert.key_size)
    key = pki.generate_private_key(spec)
    return key.public_key(), pki.private_key_to_pem(key)


@transaction.atomic
def certificate_private_key(*, actor: Actor, cert: Certificate, purpose: str = "PEM") -> str:
    require(actor, Action.CERT_EXPORT_KEY, cert)
    if not cert.private_key:
        raise NotFound(f"Certificate {cert.pk} has no stored private key.")
    audit_record(
        action=AuditAction.CERT_EXPORT_PRIVATE_KEY, actor=actor, target=cert,
        detail=f"exported the private key of certificate {cert.common_name} ({purpose})",
    )  # fmt: skip
    return keystore.decrypt(cert.private_key)


def certificate_pkcs12(*, actor: Actor, cert: Certificate, password: str | None) -> bytes:
    with transaction.atomic():
        key_pem = certificate_private_key(actor=actor, cert=cert, purpose="PKCS#12")
        chain = [pki.load_certificate_pem(ca.certificate) for ca in ca_chain(cert.issuer)]
    return pki.to_pkcs12(
        name=cert.common_name,
        key=pki.load_private_key_pem(key_pem, unsafe_skip_rsa_key_validation=True),
        cert=pki.load_certificate_pem(cert.certificate),
        chain=chain,
        password=password.encode() if password else None,
    )


def certificate_chain_pem(cert: Certificate) -> str:
    return cert.certificate.strip() + "\n" + "".join(ca.certificate.strip() + "\n" for ca in ca_chain(cert.issuer))
