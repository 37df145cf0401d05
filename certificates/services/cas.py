"""Certificate authorities: create, delete, revoke at the parent, key export, look-ups (SPEC §6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.policy import Action, is_superuser, require
from audit.models import AuditAction
from audit.services import audit_record
from certificates import keystore
from certificates import x509 as pki
from certificates.models import Certificate, CertificateAuthority, CertificateType, PendingCrlEntry
from certificates.services.common import (
    Issued,
    ca_certificate,
    ca_material,
    check_not_revoked,
    creator,
    public_urls,
    refuse_if_revoked,
    valid_days_of,
    validity_under,
    x509_invalid,
)
from certificates.services.revocation import CESSATION, reason_code, revocation_flag, with_comment
from certificates.x509.urls import normalize_crl_base_url
from orgs.models import Organization
from pkiserver.errors import Conflict, Invalid, NotFound

if TYPE_CHECKING:
    from accounts.actors import Actor

CA_NAMES_WITHOUT_ORG_LOCK = 0x5049_4B43_414E  # advisory lock key: names of CAs without organization


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


@dataclass(frozen=True)
class _CAPlan:
    """A CA request once checked: what `ca_create` signs and saves."""

    name: str
    subject: Any
    spec: pki.KeySpec
    crl_base_url: str | None
    valid_days: int
    parent: CertificateAuthority | None
    org_id: int | None


def _plan_ca(actor: Actor, data: CARequest) -> _CAPlan:
    """Check the payload and the policy of a CA creation, before any key is made."""
    name = data.name.strip()
    if not name:
        raise Invalid("name must not be empty.", field="name")
    try:
        subject = pki.parse_subject(data.subject_dn)
        subject = pki.check_subject(subject, email_allowed=False)  # a CA certificate here has no SAN
        spec = pki.parse_key_spec(data.key_algorithm, data.key_size, settings.CA_KEY_SIZE)
        crl_base_url = normalize_crl_base_url(data.crl_base_url)  # refused now, not when a child is signed
    except pki.X509Error as exc:
        raise x509_invalid(exc) from None
    if data.path_length is not None and data.path_length < 0:
        raise Invalid("path_length must not be negative.", field="path_length")
    valid_days = valid_days_of(data.valid_days, settings.CA_CERT_DAYS)
    parent = None
    if data.parent_ca_id is not None:
        parent = CertificateAuthority.objects.filter(pk=data.parent_ca_id).first()
        if parent is None:
            raise Invalid(f"Parent CA {data.parent_ca_id} does not exist.", field="parent_ca_id")
        require(actor, Action.CA_CREATE, parent, message="Not enough permissions on the parent CA")
    # A child lives in its parent's organization: a chain never crosses tenants.
    org_id = parent.organization_id if parent is not None else actor.organization_id
    require(actor, Action.CA_CREATE, CertificateAuthority(organization_id=org_id))
    if parent is not None and parent.path_length == 0:
        raise Invalid("The parent CA has path length 0 and cannot have child CAs.", field="parent_ca_id")
    if parent is not None:
        check_not_revoked(parent)
    return _CAPlan(name, subject, spec, crl_base_url, valid_days, parent, org_id)


def ca_create(*, actor: Actor, data: CARequest, request_base: str) -> Issued:
    plan = _plan_ca(actor, data)
    key = pki.generate_private_key(plan.spec)  # slow: before any lock is taken
    key_pem = pki.private_key_to_pem(key)
    warnings: list[str] = []
    with transaction.atomic():
        _lock_ca_names(plan.org_id)
        if CertificateAuthority.objects.filter(organization=plan.org_id, name__iexact=plan.name).exists():
            raise Invalid(
                f"A CA named '{plan.name}' already exists in this organization.", field="name", code="duplicate"
            )
        now = timezone.now().replace(microsecond=0)
        cert, parent, path_length, not_after = _sign_ca(plan, data, key, now, request_base, warnings)
        ca = CertificateAuthority.objects.create(
            name=plan.name,
            description=data.description,
            subject_dn=data.subject_dn,
            key_algorithm=plan.spec.algorithm,
            key_size=pki.key_size_of(key),
            valid_days=(not_after - now).days if warnings else plan.valid_days,
            parent=parent,
            path_length=path_length,
            allow_leaf_certs=True if data.allow_leaf_certs is None else data.allow_leaf_certs,
            allow_leaf_certs_explicit=data.allow_leaf_certs is not None,
            crl_base_url=plan.crl_base_url,
            certificate=pki.certificate_to_pem(cert),
            private_key=keystore.encrypt(key_pem),
            serial_number=pki.serial_to_hex(cert.serial_number),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            organization_id=plan.org_id,
            created_by_user=creator(actor),
        )
        audit_record(
            action=AuditAction.CA_CREATE, actor=actor, target=ca,
            detail=f"created {'root' if parent is None else 'intermediate'} CA {ca.name} ({plan.spec})",
        )  # fmt: skip
    return Issued(ca, key_pem, warnings)


def _sign_ca(
    plan: _CAPlan, data: CARequest, key: Any, now: datetime, request_base: str, warnings: list[str]
) -> tuple[Any, CertificateAuthority | None, int | None, datetime]:
    """The new CA's certificate, its parent (locked, closed to leaves unless it said otherwise),
    its path length and its end. Call in the creation's transaction."""
    if plan.parent is None:
        not_after, _ = pki.clamp_validity(now, plan.valid_days, None)
        cert = pki.build_root_ca(
            subject=plan.subject, key=key, serial=pki.random_serial(), not_before=now,
            not_after=not_after, path_length=data.path_length,
        )  # fmt: skip
        return cert, None, data.path_length, not_after
    parent = CertificateAuthority.objects.select_for_update().filter(pk=plan.parent.pk).first()
    if parent is None:  # deleted while the key was being made
        raise Invalid(f"Parent CA {data.parent_ca_id} does not exist.", field="parent_ca_id")
    try:
        path_length = pki.child_path_length(parent.path_length, data.path_length)
    except pki.X509Error as exc:
        raise x509_invalid(exc) from None
    not_after = validity_under(parent, "CA", now, plan.valid_days, warnings)
    parent_cert, parent_key = ca_material(parent)
    urls = public_urls(parent, request_base)
    cert = pki.build_intermediate_ca(
        subject=plan.subject, public_key=key.public_key(), issuer_cert=parent_cert, issuer_key=parent_key,
        serial=pki.random_serial(), not_before=now, not_after=not_after, path_length=path_length,
        crl_url=urls["crl"], ca_issuers_url=urls["ca_issuers"], ocsp_url=urls["ocsp"],
    )  # fmt: skip
    if not parent.allow_leaf_certs_explicit and parent.allow_leaf_certs:
        parent.allow_leaf_certs = False
        parent.save(update_fields=["allow_leaf_certs", "updated_at"])
    return cert, parent, path_length, not_after


def _lock_ca_names(org_id: int | None) -> None:
    """Serialise CA creation per organization, so two requests cannot both take one name."""
    if org_id is not None:
        # no_key: a FOR UPDATE lock would also block every insert referencing the organization
        # (an issuance holding its CA's lock), and a child-CA creation waiting for that CA deadlocks.
        list(Organization.objects.select_for_update(no_key=True).filter(pk=org_id).values_list("pk", flat=True))
    elif connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CA_NAMES_WITHOUT_ORG_LOCK])


@transaction.atomic
def ca_delete(*, actor: Actor, ca: CertificateAuthority) -> None:
    """Delete a CA and its certificates. An intermediate that has not expired is revoked at its
    parent first (`cessation_of_operation`), so the parent's CRL and OCSP keep saying so."""
    require(actor, Action.CA_DELETE, ca)
    parent = _lock_parent(ca)
    locked = CertificateAuthority.objects.select_for_update().filter(pk=ca.pk).first()
    if locked is None:  # another request deleted it first
        raise NotFound("CA not found")
    ca = locked
    children = ca.children.count()
    if children:
        raise Conflict(f"CA '{ca.name}' has {children} child CA(s); delete them first.", code="has_children")
    count = ca.certificates.count()
    note = ""
    if parent is not None and ca.revoked_at is None and ca.not_after > timezone.now():
        _record_ca_revocation(ca=ca, parent=parent, flag=CESSATION, reason="cessation_of_operation")
        note = f"; revoked at its parent {parent.name} (cessation_of_operation)"
    audit_record(
        action=AuditAction.CA_DELETE, actor=actor, target=ca,
        detail=f"deleted CA {ca.name} and its {count} certificate(s){note}",
    )  # fmt: skip
    ca.certificates.all().delete()
    ca.delete()


# What PATCH /cas/{id} may change (SPEC §15).
CA_SETTINGS = ("description", "allow_leaf_certs", "acme_enabled", "acme_eab_required", "acme_max_validity_days")


def ca_update(*, actor: Actor, ca: CertificateAuthority, changes: dict[str, Any]) -> CertificateAuthority:
    """Change settings of a CA (`CA_SETTINGS`); a value equal to the current one is no change, and
    no change writes nothing. A revoked CA is not opened to leaves or to ACME (409 `ca_revoked`)."""
    require(actor, Action.CA_UPDATE, ca)
    with transaction.atomic():
        # FOR UPDATE: an issuance holding the CA (`hold_ca`) ends first, or sees the new settings.
        locked = CertificateAuthority.objects.select_for_update().filter(pk=ca.pk).first()
        if locked is None:
            raise NotFound("CA not found")
        before = {name: getattr(locked, name) for name in changes}
        changed = {name: value for name, value in changes.items() if before[name] != value}
        if changed.get("allow_leaf_certs") or changed.get("acme_enabled"):
            refuse_if_revoked(locked)
        if not changed:
            return locked
        for name, value in changed.items():
            setattr(locked, name, value)
        fields = [*changed, "updated_at"]
        if "allow_leaf_certs" in changed:  # an explicit choice: a child CA's creation leaves it alone
            locked.allow_leaf_certs_explicit = True
            fields.append("allow_leaf_certs_explicit")
        locked.save(update_fields=fields)
        audit_record(
            action=AuditAction.CA_UPDATE, actor=actor, target=locked,
            detail=f"changed CA {locked.name}: "
            + ", ".join(f"{name} {_shown(before[name])} -> {_shown(value)}" for name, value in changed.items()),
        )  # fmt: skip
    return locked


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:60] + "…")
    return str(value)


def _lock_parent(ca: CertificateAuthority) -> CertificateAuthority | None:
    """Lock the parent of `ca` (NO KEY UPDATE, as its CRL publication does): parents are locked
    before children, so a delete and a revoke of one intermediate cannot deadlock."""
    if ca.parent_id is None:
        return None
    return CertificateAuthority.objects.select_for_update(no_key=True).filter(pk=ca.parent_id).first()


def ca_revoke(
    *, actor: Actor, ca: CertificateAuthority, reason: str | None, comment: str | None = None
) -> CertificateAuthority:
    """Revoke an intermediate at its parent (SPEC §6): the parent's CRL and OCSP say so at once,
    and from then on this CA and every CA below it issue nothing. `comment`: as for certificates."""
    require(actor, Action.CA_REVOKE, ca)
    if ca.parent_id is None:
        raise Invalid("A root CA has no issuer to revoke it: delete it, or remove it from your trust stores.")
    flag = revocation_flag(reason, for_ca=True)
    reason = with_comment(reason, comment)
    with transaction.atomic():
        parent = _lock_parent(ca)
        # FOR UPDATE: an issuance holding the CA (`hold_ca`) ends first, or sees it revoked.
        locked = CertificateAuthority.objects.select_for_update().filter(pk=ca.pk).first()
        if parent is None or locked is None:
            raise NotFound("CA not found")
        if locked.revoked_at is not None:
            raise Conflict(f"CA '{locked.name}' is already revoked.", code="already_revoked")
        _record_ca_revocation(ca=locked, parent=parent, flag=flag, reason=reason)
        audit_record(
            action=AuditAction.CA_REVOKE, actor=actor, target=locked,
            detail=f"revoked CA {locked.name} serial {locked.serial_number} at its parent "
            f"{parent.name}" + (f" ({reason})" if reason else ""),
        )  # fmt: skip
    locked.refresh_from_db()
    return locked


def _record_ca_revocation(
    *, ca: CertificateAuthority, parent: CertificateAuthority, flag: Any, reason: str | None
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
        common_name=(pki.common_name_of(ca_certificate(ca.certificate).subject) or ca.name)[:255],
        subject_dn=ca.subject_dn, certificate_type=CertificateType.CA, key_algorithm=ca.key_algorithm,
        key_size=ca.key_size, valid_days=ca.valid_days, certificate=ca.certificate, private_key=None,
        serial_number=ca.serial_number, not_before=ca.not_before, not_after=ca.not_after, revoked_at=now,
        revocation_reason=reason or None, revocation_reason_code=reason_code(flag), issuer=parent,
        organization_id=parent.organization_id, created_by_user_id=ca.created_by_user_id, from_csr=True,
    )  # fmt: skip
    PendingCrlEntry.objects.create(certificate_id=record.pk, ca_id=parent.pk)  # in the parent's next CRL


@transaction.atomic
def ca_private_key(*, actor: Actor, ca: CertificateAuthority) -> str:
    require(actor, Action.CA_EXPORT_KEY, ca)
    audit_record(
        action=AuditAction.CA_EXPORT_PRIVATE_KEY, actor=actor, target=ca,
        detail=f"exported the private key of CA {ca.name}",
    )  # fmt: skip
    return keystore.decrypt(ca.private_key)


def ca_by_name(*, actor: Actor, name: str) -> CertificateAuthority:
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


def ca_by_pk(pk: int) -> CertificateAuthority:
    """A CA by primary key, whatever its organization (the caller applies the policy), or 404."""
    ca = CertificateAuthority.objects.filter(pk=pk).first() if 0 < pk < 2**63 else None  # nor a database error
    if ca is None:
        raise NotFound("Not found.")
    return ca
