"""CA and certificate writes: create, issue, sign, renew, revoke, delete, key export, CRLs.

Each service checks the policy and the payload, calls the x509 layer, saves, and records its
audit entry in the same transaction (an issuance on PostgreSQL: in the same statement). Slow work
(key generation) happens before any write, so no lock is held while a key is made.
"""

from __future__ import annotations

import base64
import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.policy import Action, is_superuser, require
from audit.models import AuditAction
from audit.services import audit_record, create_audited
from certificates import keystore
from certificates import x509 as pki
from certificates.models import Certificate, CertificateAuthority, CertificateType, RevocationList
from certificates.x509.urls import normalize_crl_base_url
from orgs.models import Organization
from pkiserver.db.rows import Inserts, Rows
from pkiserver.errors import Conflict, Invalid, NotFound
from serviceaccounts.services import enforce_issuance_policy

MAX_VALID_DAYS = 36500
CA_NAMES_WITHOUT_ORG_LOCK = 0x5049_4B43_414E  # advisory lock key: names of CAs without organization
SERIAL_ATTEMPTS = 5


@dataclass
class Issued:
    """What a create/issue/sign/renew answers: the object, the key shown once, and notes."""

    obj: Any
    private_key: str | None = None
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Public URLs embedded in certificates (SPEC §9)


def public_base(ca: CertificateAuthority, request_base: str) -> str:
    return (ca.crl_base_url or settings.PUBLIC_BASE_URL or request_base).rstrip("/")


def public_urls(ca: CertificateAuthority, request_base: str) -> dict[str, str]:
    base, slug = public_base(ca, request_base), ca.slug
    return {"crl": f"{base}/crl/{slug}", "ca_issuers": f"{base}/ca/{slug}.crt", "ocsp": f"{base}/ocsp/{slug}"}


def _x509(exc: pki.X509Error) -> Invalid:
    return Invalid(str(exc), field=exc.field)


def _valid_days(requested: int | None, default: int) -> int:
    days = default if requested is None else requested
    if days < 1 or days > MAX_VALID_DAYS:
        raise Invalid(f"valid_days must be between 1 and {MAX_VALID_DAYS}.", field="valid_days")
    return days


def _ca_material(ca: CertificateAuthority) -> tuple[Any, Any]:
    return _ca_certificate(ca.certificate), keystore.load_key(ca.private_key)


@lru_cache(maxsize=256)
def _ca_certificate(pem: str) -> Any:
    """A CA's parsed certificate, once per process: every signature, CRL and OCSP answer needs it."""
    return pki.load_certificate_pem(pem)


def _validity_under(
    issuer: CertificateAuthority, kind: str, now: datetime, valid_days: int, warnings: list[str]
) -> datetime:
    """The end of a `kind` that `issuer` signs: `valid_days` from `now`, cut to the issuer's own end
    (with a note in `warnings`, see `_capped_warning`)."""
    try:
        not_after, capped = pki.clamp_validity(now, valid_days, issuer.not_after)
    except pki.X509Error as exc:
        raise _x509(exc) from None
    note = _capped_warning(kind, now, valid_days, not_after) if capped else None
    if note:
        warnings.append(note)
    return not_after


def _capped_warning(kind: str, now: datetime, valid_days: int, not_after: datetime) -> str | None:
    """The note for a validity cut to the issuer's end, unless the cut is under a day: a child
    made with the same default right after its parent would otherwise always be 'capped'."""
    if now + timedelta(days=valid_days) - not_after < timedelta(days=1):
        return None
    return (
        f"valid_days capped: the {kind} would outlive its issuing CA, so it expires with it on {not_after.isoformat()}."
    )


# ---------------------------------------------------------------------------------------------
# Certificate authorities (SPEC §6)


@dataclass(frozen=True)
class CARequest:
    name: str
    subject_dn: str
    description: str | None = None
    key_algorithm: str | None = None
    key_size: int | None = None
    valid_days: int | None = None
    parent_ca_id: int | None = None
    path_length: int | None = None
    allow_leaf_certs: bool | None = None
    crl_base_url: str | None = None


def ca_create(*, actor: Any, data: CARequest, request_base: str) -> Issued:
    name = data.name.strip()
    if not name:
        raise Invalid("name must not be empty.", field="name")
    try:
        subject = pki.parse_subject(data.subject_dn)
        subject = pki.check_subject(subject, email_allowed=False)  # a CA certificate here has no SAN
        spec = pki.parse_key_spec(data.key_algorithm, data.key_size, settings.CA_KEY_SIZE)
        crl_base_url = normalize_crl_base_url(data.crl_base_url)  # refused now, not when a child is signed
    except pki.X509Error as exc:
        raise _x509(exc) from None
    if data.path_length is not None and data.path_length < 0:
        raise Invalid("path_length must not be negative.", field="path_length")
    valid_days = _valid_days(data.valid_days, settings.CA_CERT_DAYS)
    parent = None
    if data.parent_ca_id is not None:
        parent = CertificateAuthority.objects.filter(pk=data.parent_ca_id).first()
        if parent is None:
            raise Invalid(f"Parent CA {data.parent_ca_id} does not exist.", field="parent_ca_id")
        require(actor, Action.CA_CREATE, parent, message="Not enough permissions on the parent CA")
    # A child lives in its parent's organization: a chain never crosses tenants.
    org_id = parent.organization_id if parent is not None else actor.organization_id
    org_target = CertificateAuthority(organization_id=org_id)
    require(actor, Action.CA_CREATE, org_target)
    if parent is not None and parent.path_length == 0:
        raise Invalid("The parent CA has path length 0 and cannot have child CAs.", field="parent_ca_id")
    if parent is not None:
        _check_not_revoked(parent)

    key = pki.generate_private_key(spec)  # slow: before any lock is taken
    key_pem = pki.private_key_to_pem(key)
    warnings: list[str] = []
    with transaction.atomic():
        _lock_ca_names(org_id)
        if _ca_name_taken(name, org_id):
            raise Invalid(f"A CA named '{name}' already exists in this organization.", field="name", code="duplicate")
        now = timezone.now().replace(microsecond=0)
        if parent is None:
            not_after, _ = pki.clamp_validity(now, valid_days, None)
            path_length = data.path_length
            cert = pki.build_root_ca(
                subject=subject, key=key, serial=pki.random_serial(), not_before=now,
                not_after=not_after, path_length=path_length,
            )  # fmt: skip
        else:
            parent = CertificateAuthority.objects.select_for_update().filter(pk=parent.pk).first()
            if parent is None:  # deleted while the key was being made
                raise Invalid(f"Parent CA {data.parent_ca_id} does not exist.", field="parent_ca_id")
            try:
                path_length = pki.child_path_length(parent.path_length, data.path_length)
            except pki.X509Error as exc:
                raise _x509(exc) from None
            not_after = _validity_under(parent, "CA", now, valid_days, warnings)
            parent_cert, parent_key = _ca_material(parent)
            urls = public_urls(parent, request_base)
            cert = pki.build_intermediate_ca(
                subject=subject, public_key=key.public_key(), issuer_cert=parent_cert, issuer_key=parent_key,
                serial=pki.random_serial(), not_before=now, not_after=not_after, path_length=path_length,
                crl_url=urls["crl"], ca_issuers_url=urls["ca_issuers"], ocsp_url=urls["ocsp"],
            )  # fmt: skip
            if not parent.allow_leaf_certs_explicit and parent.allow_leaf_certs:
                parent.allow_leaf_certs = False
                parent.save(update_fields=["allow_leaf_certs", "updated_at"])
        ca = CertificateAuthority.objects.create(
            name=name,
            description=data.description,
            subject_dn=data.subject_dn,
            key_algorithm=spec.algorithm,
            key_size=pki.key_size_of(key),
            valid_days=(not_after - now).days if warnings else valid_days,
            parent=parent,
            path_length=path_length,
            allow_leaf_certs=True if data.allow_leaf_certs is None else data.allow_leaf_certs,
            allow_leaf_certs_explicit=data.allow_leaf_certs is not None,
            crl_base_url=crl_base_url,
            certificate=pki.certificate_to_pem(cert),
            private_key=keystore.encrypt(key_pem),
            serial_number=pki.serial_to_hex(cert.serial_number),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            organization_id=org_id,
            created_by_user=_creator(actor),
        )
        audit_record(
            action=AuditAction.CA_CREATE, actor=actor, organization_id=org_id, resource_type="ca",
            resource_id=ca.pk, detail=f"created {'root' if parent is None else 'intermediate'} CA {ca.name} ({spec})",
        )  # fmt: skip
    return Issued(ca, key_pem, warnings)


def _lock_ca_names(org_id: int | None) -> None:
    """Serialise CA creation per organization, so two requests cannot both take one name."""
    if org_id is not None:
        # no_key: a FOR UPDATE lock would also block every insert referencing the organization
        # (an issuance holding its CA's lock), and a child-CA creation waiting for that CA deadlocks.
        list(Organization.objects.select_for_update(no_key=True).filter(pk=org_id).values_list("pk", flat=True))
    elif connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CA_NAMES_WITHOUT_ORG_LOCK])


def _ca_name_taken(name: str, org_id: int | None) -> bool:
    return CertificateAuthority.objects.filter(organization_id=org_id, name__iexact=name).exists()


def _creator(actor: Any) -> Any:
    return None if getattr(actor, "is_service_account", False) else actor


@transaction.atomic
def ca_delete(*, actor: Any, ca: CertificateAuthority) -> None:
    """Delete a CA and its certificates. An intermediate that has not expired is revoked at its
    parent first (`cessation_of_operation`), so the parent's CRL and OCSP keep saying so."""
    require(actor, Action.CA_DELETE, ca)
    parent = _lock_parent(ca)
    ca = CertificateAuthority.objects.select_for_update().filter(pk=ca.pk).first()
    if ca is None:  # another request deleted it first
        raise NotFound("CA not found")
    children = ca.children.count()
    if children:
        raise Conflict(f"CA '{ca.name}' has {children} child CA(s); delete them first.", code="has_children")
    count = ca.certificates.count()
    note = ""
    if parent is not None and ca.revoked_at is None and ca.not_after > timezone.now():
        _record_ca_revocation(actor=actor, ca=ca, parent=parent, flag=CESSATION, reason="cessation_of_operation")
        note = f"; revoked at its parent {parent.name} (cessation_of_operation)"
    audit_record(
        action=AuditAction.CA_DELETE, actor=actor, organization_id=ca.organization_id, resource_type="ca",
        resource_id=ca.pk, detail=f"deleted CA {ca.name} and its {count} certificate(s){note}",
    )  # fmt: skip
    ca.certificates.all().delete()
    ca.delete()


def _lock_parent(ca: CertificateAuthority) -> CertificateAuthority | None:
    """Lock the parent of `ca` (NO KEY UPDATE, as a revocation under it does): parents are locked
    before children, so a delete and a revoke of one intermediate cannot deadlock."""
    if ca.parent_id is None:
        return None
    return CertificateAuthority.objects.select_for_update(no_key=True).filter(pk=ca.parent_id).first()


def ca_revoke(
    *, actor: Any, ca: CertificateAuthority, reason: str | None, comment: str | None = None
) -> CertificateAuthority:
    """Revoke an intermediate at its parent (SPEC §6): the parent's CRL and OCSP say so at once,
    and from then on this CA and every CA below it issue nothing. `comment`: as for certificates."""
    require(actor, Action.CA_REVOKE, ca)
    if ca.parent_id is None:
        raise Invalid("A root CA has no issuer to revoke it: delete it, or remove it from your trust stores.")
    flag = _revocation_flag(reason, for_ca=True)
    if comment and comment.strip():
        reason = f"{reason}: {comment.strip()}" if reason else comment.strip()
    if reason is not None and len(reason) > 255:
        raise Invalid("reason must be at most 255 characters.", field="reason")
    with transaction.atomic():
        parent = _lock_parent(ca)
        locked = CertificateAuthority.objects.select_for_update(no_key=True).filter(pk=ca.pk).first()
        if parent is None or locked is None:
            raise NotFound("CA not found")
        if locked.revoked_at is not None:
            raise Conflict(f"CA '{locked.name}' is already revoked.", code="already_revoked")
        _record_ca_revocation(actor=actor, ca=locked, parent=parent, flag=flag, reason=reason)
        audit_record(
            action=AuditAction.CA_REVOKE, actor=actor, organization_id=locked.organization_id, resource_type="ca",
            resource_id=locked.pk, detail=f"revoked CA {locked.name} serial {locked.serial_number} at its parent "
            f"{parent.name}" + (f" ({reason})" if reason else ""),
        )  # fmt: skip
    locked.refresh_from_db()
    return locked


def _record_ca_revocation(
    *, actor: Any, ca: CertificateAuthority, parent: CertificateAuthority, flag: Any, reason: str | None
) -> None:
    """Mark `ca` revoked and record its certificate under the parent as a revoked certificate of
    type `ca`: the parent's CRL, OCSP and certificate list then cover it like any other, and the
    record outlives the CA when it is deleted. Call with both rows locked (parent first)."""
    now = timezone.now()
    ca.revoked_at, ca.revocation_reason = now, reason or None
    CertificateAuthority.objects.filter(pk=ca.pk).update(
        revoked_at=now, revocation_reason=reason or None, updated_at=now
    )
    record = Certificate.objects.create(
        common_name=(pki.common_name_of(pki.load_certificate_pem(ca.certificate).subject) or ca.name)[:255],
        subject_dn=ca.subject_dn, certificate_type=CertificateType.CA, key_algorithm=ca.key_algorithm,
        key_size=ca.key_size, valid_days=ca.valid_days, certificate=ca.certificate, private_key=None,
        serial_number=ca.serial_number, not_before=ca.not_before, not_after=ca.not_after, revoked_at=now,
        revocation_reason=reason or None, revocation_reason_code=_reason_code(flag), issuer=parent,
        organization_id=parent.organization_id, created_by_user_id=ca.created_by_user_id, from_csr=True,
    )  # fmt: skip
    crl_publish(ca=parent, now=now, added=[record.pk])


def _check_not_revoked(ca: CertificateAuthority) -> None:
    """409 when `ca`, or a CA above it, has been revoked: nothing issued under it could be trusted."""
    if ca.revoked_at is not None:
        raise Conflict(f"CA '{ca.name}' has been revoked and issues nothing more.", code="ca_revoked")
    if ca.parent_id is not None:
        revoked = [pk for pk, is_revoked in _lineage(ca.parent_id) if is_revoked]
        if revoked:
            above = CertificateAuthority.objects.only("name").get(pk=revoked[0])
            raise Conflict(
                f"CA '{above.name}' above CA '{ca.name}' has been revoked: '{ca.name}' issues nothing more.",
                code="ca_revoked",
            )


@transaction.atomic
def ca_private_key(*, actor: Any, ca: CertificateAuthority) -> str:
    require(actor, Action.CA_EXPORT_KEY, ca)
    audit_record(
        action=AuditAction.CA_EXPORT_PRIVATE_KEY, actor=actor, organization_id=ca.organization_id,
        resource_type="ca", resource_id=ca.pk, detail=f"exported the private key of CA {ca.name}",
    )  # fmt: skip
    return keystore.decrypt(ca.private_key)


def ca_chain(ca: CertificateAuthority) -> list[CertificateAuthority]:
    """This CA, then each parent up to the root: two queries, however deep the hierarchy."""
    if ca.parent_id is None:
        return [ca]
    ids = [pk for pk, _ in _lineage(ca.parent_id)]
    parents = CertificateAuthority.objects.in_bulk(ids)
    return [ca, *(parents[pk] for pk in ids)]


def _lineage(ca_id: int) -> list[tuple[int, bool]]:
    """(id, revoked) of the CA `ca_id` and each CA above it up to the root, in one query."""
    table = connection.ops.quote_name(CertificateAuthority._meta.db_table)  # a model's name, not input
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH RECURSIVE up(id, parent_id, revoked, depth) AS ("  # noqa: S608
            f"SELECT id, parent_id, revoked_at IS NOT NULL, 1 FROM {table} WHERE id = %s UNION ALL "
            f"SELECT c.id, c.parent_id, c.revoked_at IS NOT NULL, up.depth + 1 FROM {table} c "
            "JOIN up ON c.id = up.parent_id) SELECT id, revoked FROM up ORDER BY depth",
            [ca_id],
        )
        return [(pk, bool(revoked)) for pk, revoked in cursor.fetchall()]


def ca_by_name(*, actor: Any, name: str) -> CertificateAuthority:
    """A CA by name, in the caller's organization (superusers: anywhere, if unambiguous)."""
    matches = CertificateAuthority.objects.filter(name__iexact=name.strip())
    if not is_superuser(actor):
        matches = matches.filter(organization_id=actor.organization_id) if actor.organization_id else matches.none()
    found = list(matches[:2])
    if not found:
        raise NotFound(f"No CA named '{name}' in your organization.")
    if len(found) > 1:
        raise Invalid(f"Several CAs are named '{name}'; use ca_id.", field="ca_name")
    return found[0]


# ---------------------------------------------------------------------------------------------
# Certificates (SPEC §7)


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
    """The subject Name: `subject_dn` (or the fallback, a CSR's subject), with `common_name` as its
    CN; checked against RFC 5280's rules by `pki.check_subject`, which may re-encode a value."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cn = pki.check_attribute(NameOID.COMMON_NAME, common_name, field="common_name") if common_name else None
        name = pki.parse_subject(subject_dn) if subject_dn else fallback
    except pki.X509Error as exc:
        raise _x509(exc) from None
    if name is None:
        if cn is None:
            raise Invalid("Give subject_dn or common_name.", field="subject_dn")
        name = x509.Name([x509.RelativeDistinguishedName([cn])])
    elif cn is not None:
        existing = pki.common_name_of(name)
        if existing is None:
            name = x509.Name([*name.rdns, x509.RelativeDistinguishedName([cn])])
        elif existing != common_name:
            if subject_dn:
                raise Invalid(
                    f"common_name '{common_name}' does not match the CN '{existing}' of subject_dn.",
                    field="common_name",
                )
            name = x509.Name(
                [
                    x509.RelativeDistinguishedName([cn if a.oid == NameOID.COMMON_NAME else a for a in rdn])
                    for rdn in name.rdns
                ]
            )
    field = "subject_dn" if subject_dn else "csr" if fallback is not None else "common_name"
    try:
        return pki.check_subject(name, field=field)
    except pki.X509Error as exc:
        raise _x509(exc) from None


def _check_type(certificate_type: str) -> str:
    if certificate_type not in CertificateType.values:
        raise Invalid(f"certificate_type must be one of {', '.join(CertificateType.values)}.", field="certificate_type")
    return certificate_type


def _issue(*, ca: CertificateAuthority, **order: Any) -> tuple[Certificate, list[str]]:
    """Sign and save one certificate under `ca`; the caller has checked the policy. `order`:
    the arguments of `_issue_once` but the CA.

    The certificate is signed from the CA as the caller read it, and written (with its audit entry)
    only if the CA still exists and still takes leaf certificates when the write runs: on
    PostgreSQL one autocommitted statement that locks the CA row FOR KEY SHARE, so a delete or a
    child CA's creation (which closes the CA to leaves) waits for it or makes it write nothing,
    while issuances under one CA run side by side and do not wait for a revocation's CRL rebuild
    (NO KEY UPDATE). No BEGIN, no separate lock read, no COMMIT: three round trips fewer than a
    transaction. When the condition fails, the CA is read again: the refusal names what changed.
    A serial already taken under the CA (never seen: serials are 159 random bits) makes the write
    fail; the issuance is signed again with a new serial."""
    for attempt in range(1, SERIAL_ATTEMPTS + 1):
        try:
            # Inside a caller's transaction a failed statement would abort it: a savepoint each.
            with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
                issued = _issue_once(ca=ca, **order)
        except IntegrityError:
            if attempt == SERIAL_ATTEMPTS:
                raise
            continue
        if issued is not None:
            return issued
        fresh = _cas.one(_CA_BY_PK, [ca.pk])
        if fresh is None:
            raise NotFound("The issuing CA no longer exists.")
        _check_issuing_ca(fresh, order["certificate_type"])  # raises: the CA was closed to leaves
        ca = fresh  # closed and opened again in between: sign from what it is now
    raise Conflict("The issuing CA kept changing during the issuance; try again.", code="ca_changed")


def _check_issuing_ca(ca: CertificateAuthority, certificate_type: str) -> None:
    if ca.revoked_at is not None:
        raise Conflict(f"CA '{ca.name}' has been revoked and issues nothing more.", code="ca_revoked")
    if not ca.allow_leaf_certs:
        raise Invalid(f"CA '{ca.name}' does not allow leaf certificates (allow_leaf_certs is false).", field="ca_id")
    if certificate_type == CertificateType.CA and ca.path_length == 0:
        # Any path through such a certificate would break the issuer's path length constraint.
        raise Invalid(f"CA '{ca.name}' has path length 0 and cannot sign CA certificates.", field="certificate_type")


def _issue_once(
    *,
    actor: Any,
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
    """The certificate and its warnings, or None when the CA changed before the write (`_issue`)."""
    _check_issuing_ca(ca, certificate_type)
    warnings: list[str] = []
    now = timezone.now().replace(microsecond=0)
    not_after = _validity_under(ca, "certificate", now, valid_days, warnings)
    ca_cert, ca_key = _ca_material(ca)
    urls = public_urls(ca, request_base)
    try:
        cert = pki.build_leaf(
            certificate_type=certificate_type, subject=subject, public_key=public_key,
            issuer_cert=ca_cert, issuer_key=ca_key, serial=pki.random_serial(), not_before=now,
            not_after=not_after, sans=sans, crl_url=urls["crl"], ca_issuers_url=urls["ca_issuers"],
            ocsp_url=urls["ocsp"],
        )  # fmt: skip
    except pki.X509Error as exc:
        raise _x509(exc) from None
    obj = Certificate(
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
        created_by_user=_creator(actor),
        san_dns_names=list(sans.dns_names) if sans else [],
        san_ip_addresses=sans.ip_strings() if sans else [],
        san_email_addresses=list(sans.emails) if sans else [],
        from_csr=from_csr,
        renewed_from=renewed_from,
    )
    # The certificate and its audit entry in one statement on PostgreSQL (issuance is the
    # busiest write; the ORM's two INSERTs cost more CPU than the signature).
    written = create_audited(
        obj, _certificates, where=_ca_still_issues(ca.pk), action=audit_action, actor=actor,
        organization_id=obj.organization_id, resource_type="certificate",
        detail=f"{_described(certificate_type)} {obj.common_name} serial {obj.serial_number} from CA {ca.name}"
        + (f", renewing certificate {renewed_from.pk}" if renewed_from else ""),
    )  # fmt: skip
    return None if written is None else (obj, warnings)


def _described(certificate_type: str) -> str:
    if certificate_type == CertificateType.CA:
        return "CA certificate (CA:TRUE, a subordinate CA)"
    return f"{certificate_type} certificate"


_cas = Rows(CertificateAuthority)
_certificates = Inserts(Certificate)
_CA_BY_PK = f"SELECT {_cas.columns} FROM {_cas.table} t WHERE t.id = %s"  # noqa: S608 - model names


def ca_by_pk(pk: int) -> CertificateAuthority:
    """A CA by primary key, whatever its organization (the caller applies the policy), or 404.
    Hand-written: issuing routes run it on every request (see `pkiserver.db.rows`)."""
    ca = _cas.one(_CA_BY_PK, [pk]) if 0 < pk < 2**63 else None  # no such id, nor a database error
    if ca is None:
        raise NotFound("Not found.")
    return ca


def _ca_still_issues(pk: int) -> tuple[str, list[Any]]:
    """The condition an issuance's write checks (see `_issue`): the CA exists, is not revoked and
    takes leaf certificates, locked FOR KEY SHARE on PostgreSQL. SQLite serialises writes (`transaction_mode`
    IMMEDIATE), so there it needs no lock."""
    lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
    return (
        f"EXISTS (SELECT 1 FROM {_cas.table} c WHERE c.id = %s AND c.allow_leaf_certs "  # noqa: S608
        f"AND c.revoked_at IS NULL{lock})",
        [pk],
    )


def _require_issuance(actor: Any, ca: CertificateAuthority, kind: str) -> None:
    """The policy for signing a `kind` certificate under `ca`: CA:TRUE also needs the CA-creation
    permission (SPEC §5); then the CA and those above it must not be revoked."""
    require(actor, Action.CERT_CREATE, ca)
    if kind == CertificateType.CA:
        require(
            actor, Action.CERT_CREATE_CA, ca,
            message="A certificate of type 'ca' (CA:TRUE) is a subordinate CA: it needs the CA-creation permission too",
        )  # fmt: skip
    _check_not_revoked(ca)


def certificate_issue(*, actor: Any, ca: CertificateAuthority, data: CertRequest, request_base: str) -> Issued:
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
        raise _x509(exc) from None
    valid_days = _valid_days(data.valid_days, settings.CERT_DAYS)
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
        raise _x509(exc) from None
    return csr


def certificate_sign_csr(
    *, actor: Any, ca: CertificateAuthority, csr_pem: str, data: CertRequest, request_base: str
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
        raise _x509(exc) from None
    valid_days = _valid_days(data.valid_days, settings.CERT_DAYS)
    enforce_issuance_policy(
        actor=actor, ca=ca, certificate_type=kind, subject=subject, sans=sans, valid_days=valid_days
    )
    obj, warnings = _issue(
        actor=actor, ca=ca, certificate_type=kind, subject=subject, public_key=pki.csr_public_key(csr), sans=sans,
        valid_days=valid_days, request_base=request_base, stored_key_pem=None,
        audit_action=AuditAction.CERT_SIGN_CSR, from_csr=True,
    )  # fmt: skip
    return Issued(obj, None, warnings)


def certificate_renew(*, actor: Any, cert: Certificate, csr_pem: str | None, request_base: str) -> Issued:
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
        raise _x509(exc) from None
    sans = pki.build_sans(
        CertificateType.CA if cert.certificate_type == CertificateType.CA else cert.certificate_type,
        None, cert.san_dns_names, cert.san_ip_addresses, cert.san_email_addresses,
    )  # fmt: skip
    days = max(1, (cert.not_after - cert.not_before).days) if cert.valid_days < 1 else cert.valid_days
    enforce_issuance_policy(
        actor=actor, ca=ca, certificate_type=cert.certificate_type, subject=subject, sans=sans, valid_days=days
    )
    key_pem = None
    if cert.from_csr or csr_pem:
        if not csr_pem:
            raise Invalid(
                "This certificate was issued from a CSR: renewing it needs a new `csr`.",
                field="csr",
                code="csr_required",
            )
        public_key = pki.csr_public_key(_load_csr(csr_pem))
    else:
        spec = pki.KeySpec(cert.key_algorithm, None if cert.key_algorithm == "ed25519" else cert.key_size)
        key = pki.generate_private_key(spec)
        key_pem, public_key = pki.private_key_to_pem(key), key.public_key()
    obj, warnings = _issue(
        actor=actor, ca=ca, certificate_type=cert.certificate_type, subject=subject, public_key=public_key,
        sans=sans, valid_days=days, request_base=request_base,
        stored_key_pem=key_pem if cert.private_key else None,  # keep the original's choice
        audit_action=AuditAction.CERT_RENEW, from_csr=key_pem is None, renewed_from=cert,
    )  # fmt: skip
    return Issued(obj, key_pem, warnings)


@transaction.atomic
def certificate_private_key(*, actor: Any, cert: Certificate, purpose: str = "PEM") -> str:
    require(actor, Action.CERT_EXPORT_KEY, cert)
    if not cert.private_key:
        raise NotFound(f"Certificate {cert.pk} has no stored private key.")
    audit_record(
        action=AuditAction.CERT_EXPORT_PRIVATE_KEY, actor=actor, organization_id=cert.organization_id,
        resource_type="certificate", resource_id=cert.pk,
        detail=f"exported the private key of certificate {cert.common_name} ({purpose})",
    )  # fmt: skip
    return keystore.decrypt(cert.private_key)


def certificate_pkcs12(*, actor: Any, cert: Certificate, password: str | None) -> bytes:
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


# ---------------------------------------------------------------------------------------------
# Revocation and CRLs (SPEC §7, §9)


def certificate_revoke(*, actor: Any, cert: Certificate, reason: str | None, comment: str | None = None) -> Certificate:
    """`reason` names an RFC 5280 reason (its code goes into the CRL) or is free text; `comment` is
    free text kept after a named reason (the admin console asks for both)."""
    require(actor, Action.CERT_REVOKE, cert)
    flag = _revocation_flag(reason, for_ca=cert.certificate_type == CertificateType.CA)
    if comment and comment.strip():
        reason = f"{reason}: {comment.strip()}" if reason else comment.strip()
    if reason is not None and len(reason) > 255:
        raise Invalid("reason must be at most 255 characters.", field="reason")
    with transaction.atomic():
        # The CA row lock orders revocations of one CA: CRL numbers strictly increase. NO KEY
        # UPDATE, so issuances under the CA (KEY SHARE) go on while a large CRL is rebuilt.
        ca = CertificateAuthority.objects.select_for_update(no_key=True).filter(pk=cert.issuer_id).first()
        if ca is None:  # deleted, with its certificates, while this request was on its way
            raise NotFound(f"Certificate {cert.pk} no longer exists.")
        now = timezone.now()
        won = Certificate.objects.filter(pk=cert.pk, revoked_at__isnull=True).update(
            revoked_at=now,
            revocation_reason=reason or None,
            revocation_reason_code=_reason_code(flag),
            updated_at=now,
        )
        if not won:
            raise Conflict(f"Certificate {cert.pk} is already revoked.", code="already_revoked")
        crl_publish(ca=ca, now=now, added=[cert.pk])
        audit_record(
            action=AuditAction.CERT_REVOKE, actor=actor, organization_id=cert.organization_id,
            resource_type="certificate", resource_id=cert.pk,
            detail=f"revoked certificate {cert.common_name} serial {cert.serial_number}"
            + (f" ({reason})" if reason else ""),
        )  # fmt: skip
        revoked = Certificate.objects.select_related("issuer").get(pk=cert.pk)  # under the lock: the CA may go next
    return revoked


CESSATION = pki.REASON_NAMES["cessation_of_operation"]
_CA_ONLY_REASONS = ("ca_compromise", "aa_compromise")


def _revocation_flag(reason: str | None, *, for_ca: bool) -> Any:
    """The RFC 5280 reason that `reason` names (None for free text), refusing those that cannot
    revoke this certificate (SPEC §7)."""
    flag = pki.parse_reason(reason)
    if flag is pki.REASON_NAMES["remove_from_crl"]:
        # RFC 5280 §5.3.1: removeFromCRL only appears in delta CRLs; it never revokes anything.
        raise Invalid("remove_from_crl is only used in delta CRLs and cannot revoke a certificate.", field="reason")
    if flag is pki.REASON_NAMES["certificate_hold"]:
        raise Invalid(
            "certificate_hold is refused: a hold could never be released (there is no un-revoke).", field="reason"
        )
    if not for_ca and flag in {pki.REASON_NAMES[name] for name in _CA_ONLY_REASONS}:
        raise Invalid(
            f"{reason} only applies to CA certificates; use key_compromise for an end-entity certificate.",
            field="reason",
        )
    return flag


def _reason_code(flag: Any) -> int | None:
    return None if flag is None else pki.REASON_CODES[flag]


_REASON_FLAGS: dict[int | None, Any] = {None: None, **{code: flag for flag, code in pki.REASON_CODES.items()}}


def _reason_flag(code: int | None) -> Any:
    return _REASON_FLAGS[code]


def crl_publish(*, ca: CertificateAuthority, now: datetime | None = None, added: Sequence[int] = ()) -> RevocationList:
    """Build, sign and store a new CRL for `ca`; `added`: ids of certificates revoked since the
    stored one, in this transaction. Call with the CA row locked.

    The stored CRL is extended when it is known to hold every other revoked certificate of the CA
    (its entry count plus `added` is the CA's count, and revocations of one CA are serialised by
    that lock): its entries are copied as DER and the whole is signed again, which costs a hash of
    the CRL instead of encoding 100,000 entries again (`x509.extend_crl`). Otherwise — the first
    CRL, or anything unexpected — it is built from all the revoked rows, streamed as plain tuples.
    Either way the stored row is replaced by a single UPDATE, and once committed the new DER goes
    into this process's cache, so the revoking worker serves it without reading it back.
    """
    now = (now or timezone.now()).replace(microsecond=0)
    previous = RevocationList.objects.filter(ca_id=ca.pk).defer("der").first()
    number = (previous.number if previous else 0) + 1
    header = crl_header(ca, number=number, now=now)
    der = _crl_extended(ca, previous, added, header) if previous is not None else None
    if der is not None:
        count = previous.entries + len(added)  # type: ignore[union-attr]
    else:
        der, count = crl_from_rows(ca, header)
    next_update = header["next_update"]
    fields = {"number": number, "der": der, "this_update": now, "next_update": next_update, "entries": count}
    if not RevocationList.objects.filter(ca_id=ca.pk).update(**fields):
        RevocationList.objects.create(ca_id=ca.pk, **fields)
    # Cached once committed: a CRL rolled back with its revocation must never be served, even if
    # a later one takes the same number within the same second.
    transaction.on_commit(lambda: _crl_keep((ca.pk, ca.serial_number, number, now), der))
    return RevocationList(ca_id=ca.pk, **fields)


def crl_header(ca: CertificateAuthority, *, number: int, now: datetime) -> dict[str, Any]:
    """The arguments of a CRL of `ca` but its entries: issuer, number, thisUpdate and nextUpdate."""
    ca_cert, ca_key = _ca_material(ca)
    return {
        "issuer_cert": ca_cert, "issuer_key": ca_key, "crl_number": number, "this_update": now,
        "next_update": now + timedelta(hours=settings.CRL_VALIDITY_HOURS),
    }  # fmt: skip


def crl_from_rows(ca: CertificateAuthority, header: dict[str, Any]) -> tuple[bytes, int]:
    """A CRL of every revoked certificate of `ca`, built from the rows (streamed as plain tuples,
    each entry written as DER as it is read) and signed: its DER and its entry count. Not stored."""
    count = 0

    def entries() -> Iterator[pki.RevokedEntry]:
        nonlocal count
        for row in Certificate.objects.crl_rows(ca.pk):
            count += 1
            yield _crl_entry(row)

    return pki.build_crl_der(entries=entries(), **header), count


def _crl_entry(row: tuple[str, int, int | None]) -> pki.RevokedEntry:
    serial, seconds, code = row
    return pki.RevokedEntry(int(serial, 16), datetime.fromtimestamp(seconds, UTC), _REASON_FLAGS[code])


def _crl_extended(
    ca: CertificateAuthority, previous: RevocationList, added: Sequence[int], header: dict[str, Any]
) -> bytes | None:
    """The stored CRL extended by the `added` certificates, or None when it cannot be (see
    `crl_publish`)."""
    revoked = Certificate.objects.filter(issuer_id=ca.pk, revoked_at__isnull=False)
    if previous.entries + len(added) != revoked.count():
        return None
    rows = list(Certificate.objects.filter(pk__in=added).crl_rows(ca.pk)) if added else []
    if len(rows) != len(added):
        return None
    key = (ca.pk, ca.serial_number, previous.number, previous.this_update)
    previous_der = _crl_cached(key)
    if previous_der is None:
        previous_der = bytes(RevocationList.objects.filter(ca_id=ca.pk).values_list("der", flat=True).get())
    try:
        return pki.extend_crl(previous_der=previous_der, added=[_crl_entry(row) for row in rows], **header)
    except ValueError:  # not a CRL we can extend: build it from the rows
        return None


def _is_stale(crl: RevocationList | None, now: datetime) -> bool:
    """Refresh once half the validity has passed, so a served CRL never runs out."""
    return crl is None or now >= crl.this_update + (crl.next_update - crl.this_update) / 2


# Signed CRLs already read from the database, per process: (CA id, CA serial, CRL number,
# thisUpdate) -> DER or PEM bytes. A new CRL has a new number, so an entry is never stale; the
# CA's serial tells apart CAs that reuse an id (SQLite after a rollback). Bounded in bytes: a
# 100,000-entry CRL is 5 MB of DER and 7 MB of PEM.
CRL_CACHE_BYTES = 16 * 1024 * 1024
_crl_cache: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
_crl_cache_lock = threading.Lock()


def _crl_cached(key: tuple[Any, ...]) -> bytes | None:
    with _crl_cache_lock:
        value = _crl_cache.get(key)
        if value is not None:
            _crl_cache.move_to_end(key)
        return value


def _crl_keep(key: tuple[Any, ...], value: bytes) -> None:
    if len(value) > CRL_CACHE_BYTES:
        return
    with _crl_cache_lock:
        _crl_cache[key] = value
        total = sum(len(v) for v in _crl_cache.values())
        while total > CRL_CACHE_BYTES:
            _, evicted = _crl_cache.popitem(last=False)
            total -= len(evicted)


_UNREAD: Any = object()


def crl_current(*, ca: CertificateAuthority, header: RevocationList | None = _UNREAD) -> RevocationList:
    """The stored CRL, rebuilt only when missing or stale (not on every request).

    One small query says which CRL is current (or the caller read it: `header`, the CRL's row
    without its DER, or None when the CA has none); its DER comes from this process's cache when
    the process has served it before, so a 100,000-entry CRL costs what a 10-entry one does.
    """
    now = timezone.now()
    crl = RevocationList.objects.filter(ca_id=ca.pk).defer("der").first() if header is _UNREAD else header
    if _is_stale(crl, now):
        with transaction.atomic():
            locked = CertificateAuthority.objects.select_for_update(no_key=True).filter(pk=ca.pk).first()
            if locked is None:  # deleted since the caller looked it up
                raise NotFound("CA not found")
            crl = RevocationList.objects.filter(ca_id=ca.pk).defer("der").first()
            if _is_stale(crl, now):  # another request may have rebuilt it while we waited
                return crl_publish(ca=locked, now=now)  # cached once read back, committed
    assert crl is not None
    key = (ca.pk, ca.serial_number, crl.number, crl.this_update)
    der = _crl_cached(key)
    if der is None:
        # Number and DER in one read, in case a newer CRL was published in between.
        crl = RevocationList.objects.filter(ca_id=ca.pk).first()
        if crl is None:  # the CA was deleted in between
            raise NotFound("CA not found")
        key = (ca.pk, ca.serial_number, crl.number, crl.this_update)
        der = bytes(crl.der)
        _crl_keep(key, der)
    crl.der = der
    crl.cache_key = key  # type: ignore[attr-defined]
    return crl


def crl_pem(crl: RevocationList) -> bytes:
    """The PEM form of a CRL from `crl_current`, encoded once per process."""
    key = (*getattr(crl, "cache_key", (crl.ca_id, None, crl.number, crl.this_update)), "pem")
    pem = _crl_cached(key)
    if pem is None:
        body = base64.b64encode(bytes(crl.der))
        lines = b"\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        pem = b"-----BEGIN X509 CRL-----\n" + lines + b"\n-----END X509 CRL-----\n"
        if getattr(crl, "cache_key", None) is not None:
            _crl_keep(key, pem)
    return pem


# What the public routes read of a CA, and of a certificate for OCSP.
_public_cas = Rows(
    CertificateAuthority,
    alias="a",
    only={"id", "name", "serial_number", "certificate", "private_key", "parent_id", "organization_id"},
)
_statuses = Rows(Certificate, alias="c", only={"id", "revoked_at", "revocation_reason_code"})


def _ca_joined(joined: Rows[Any], on: str) -> str:
    """The public columns of a CA by id, and those of `joined` LEFT JOINed `on` a condition
    (whose parameters come before the id)."""
    return (
        f"SELECT {_public_cas.columns}, {joined.columns} FROM {_public_cas.table} a "  # noqa: S608 - model names
        f"LEFT JOIN {joined.table} {joined.alias} ON {on} WHERE a.id = %s"
    )


def _ca_and_joined(sql: str, joined: Rows[Any], slug: str, params: list[Any]) -> tuple[CertificateAuthority, Any]:
    """The CA named by `slug` (or 404) and its `joined` row (all None when there is none), read by
    `sql` (from `_ca_joined`) in one round trip."""
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, _slug_id(slug)])
        row = cursor.fetchone()
    return _ca_public(row, slug), joined.load(row[len(_public_cas.fields) :])


def _ca_public(row: Any, slug: str) -> CertificateAuthority:
    """The CA of the first columns of `row` (`_public_cas`), if `slug` names it; else 404."""
    ca = None if row is None else _public_cas.load(row)
    if ca is None or pki.slugify_ca(ca.name, ca.pk) != slug:
        raise NotFound("CA not found")
    return ca


def _slug_id(slug: str) -> int:
    parsed = pki.parse_slug(slug)
    if parsed is None:
        raise NotFound("CA not found")
    return parsed[1]


_CA_BY_SLUG = f"SELECT {_public_cas.columns} FROM {_public_cas.table} a WHERE a.id = %s"  # noqa: S608 - model names


_crl_headers = Rows(RevocationList, alias="r", only={"ca_id", "number", "this_update", "next_update", "entries"})
# The CA of the slug and its CRL's number and dates, in one round trip.
_CRL_BY_SLUG = _ca_joined(_crl_headers, "r.ca_id = a.id")


def crl_by_slug(slug: str) -> RevocationList:
    """The current CRL (`crl_current`) of the CA named by `slug`, or 404."""
    ca, header = _ca_and_joined(_CRL_BY_SLUG, _crl_headers, slug, [])
    return crl_current(ca=ca, header=None if header.ca_id is None else header)


def ca_by_slug(slug: str) -> CertificateAuthority:
    # Hand-written: the public CRL, CA and OCSP routes run this on every request, and the ORM's
    # query compilation costs more than the indexed lookup itself.
    with connection.cursor() as cursor:
        cursor.execute(_CA_BY_SLUG, [_slug_id(slug)])
        return _ca_public(cursor.fetchone(), slug)


# ---------------------------------------------------------------------------------------------
# OCSP (SPEC §9)

OCSP_VALIDITY = timedelta(hours=1)
# Signed answers to requests without a nonce are reused while the certificate's status is
# unchanged, for at most OCSP_REUSE (RFC 5019 §2.2: responses may be produced ahead of time): a
# relying party polling a status costs one lookup, not a signature. A request with a nonce
# always gets a fresh signature. Per process; keyed by the request's own bytes.
OCSP_REUSE = timedelta(seconds=60)
OCSP_CACHE_SIZE = 4096
_ocsp_cache: OrderedDict[tuple[Any, ...], tuple[datetime, bytes]] = OrderedDict()
_ocsp_cache_lock = threading.Lock()


# The CA of the slug and its certificate's status, in one round trip (the unique (issuer, serial)
# index): an OCSP request costs one lookup.
_OCSP_LOOKUP = _ca_joined(_statuses, "c.issuer_id = a.id AND c.serial_number = %s")


def _ocsp_lookup(slug: str, serial: str) -> tuple[CertificateAuthority, tuple[datetime | None, int | None] | None]:
    """The CA named by `slug` (or 404) and (revoked_at, reason code) of its certificate with this
    serial, or None when it has none."""
    ca, status = _ca_and_joined(_OCSP_LOOKUP, _statuses, slug, [serial])
    return ca, None if status.pk is None else (status.revoked_at, status.revocation_reason_code)


def _reusable(request: Any) -> bool:
    try:
        return len(request.extensions) == 0
    except Exception:  # malformed extensions: answered malformedRequest below, never reused
        return False


def ocsp_respond(*, slug: str, request_der: bytes | None = None, get_path: str | None = None) -> bytes:
    """A signed OCSP answer for one request to the CA of `slug` (404 when there is none);
    `malformedRequest` when the request cannot be parsed."""
    try:
        request = (
            pki.parse_ocsp_get_request(get_path) if get_path is not None else pki.parse_ocsp_request(request_der or b"")
        )
    except pki.X509Error:
        ca_by_slug(slug)  # an unknown CA is a 404 whatever the body
        return pki.malformed_response()
    serial = pki.serial_to_hex(request.serial_number)
    ca, row = _ocsp_lookup(slug, serial)
    if row is None and CertificateAuthority.objects.filter(parent_id=ca.pk, serial_number=serial).exists():
        # A child CA's certificate: its AIA points here too. A revoked (or deleted) child has a
        # revoked certificate row under this CA (`_record_ca_revocation`), found above.
        row = (None, None)
    now = timezone.now().replace(microsecond=0)
    key = (ca.pk, ca.serial_number, get_path if get_path is not None else request_der, row)
    if _reusable(request):
        with _ocsp_cache_lock:
            cached = _ocsp_cache.get(key)
        if cached is not None and now - cached[0] < OCSP_REUSE:
            return cached[1]
    else:
        key = None
    if row is None:
        lookup = pki.OCSPLookup(pki.OCSPStatus.UNKNOWN)
    elif row[0] is None:
        lookup = pki.OCSPLookup(pki.OCSPStatus.GOOD)
    else:
        lookup = pki.OCSPLookup(pki.OCSPStatus.REVOKED, revoked_at=row[0], reason=_reason_flag(row[1]))
    ca_cert, ca_key = _ca_material(ca)
    try:
        answer = pki.build_ocsp_response(
            issuer_cert=ca_cert, issuer_key=ca_key, request=request, lookup=lookup, this_update=now,
            next_update=now + OCSP_VALIDITY,
        )  # fmt: skip
    except pki.X509Error:  # extensions are parsed only here (a duplicate or broken nonce)
        return pki.malformed_response()
    if key is not None:
        with _ocsp_cache_lock:
            _ocsp_cache[key] = (now, answer)
            _ocsp_cache.move_to_end(key)
            if len(_ocsp_cache) > OCSP_CACHE_SIZE:
                _ocsp_cache.popitem(last=False)
    return answer
