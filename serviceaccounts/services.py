"""Service-account writes: accounts, tokens and issuance policies.

Every write checks the policy (`Action.SA_MANAGE`), saves and audits in one transaction. The gate
that applies an issuance policy lives with issuance (`certificates.services.policy`): certificates
depend on service accounts, never the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import CAPABILITY_FLAGS
from accounts.policy import Action, is_superuser, require
from audit.models import AuditAction
from audit.services import audit_record
from certificates import x509 as pki
from orgs.models import Organization
from pkiserver.errors import Invalid, NotFound
from serviceaccounts import issuance, tokens
from serviceaccounts.models import NAME_MAX_LENGTH, IssuancePolicy, ServiceAccount, ServiceAccountToken

if TYPE_CHECKING:
    from accounts.actors import Actor

MAX_VALIDITY_DAYS = 36500
POLICY_FIELDS = (
    "cn_patterns",
    "san_dns_patterns",
    "san_ip_cidrs",
    "san_email_domains",
    "allowed_ca_ids",
    "allowed_certificate_types",
    "max_validity_days",
)


def _audit(action: AuditAction, *, actor: Actor, account: ServiceAccount, detail: str) -> None:
    audit_record(action=action, actor=actor, target=account, detail=detail)


def _creator_id(actor: Actor) -> int | None:
    return None if actor.is_service_account else actor.pk


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise Invalid("name must not be empty.", field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise Invalid(f"name must be at most {NAME_MAX_LENGTH} characters.", field="name")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise Invalid("name must not contain control characters.", field="name")
    return name


def _check_name_free(name: str, organization_id: int, exclude_pk: int | None = None) -> None:
    taken = ServiceAccount.objects.filter(organization_id=organization_id, name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise Invalid(
            f"A service account named '{name}' already exists in this organization.", field="name", code="duplicate"
        )


def _save(account: ServiceAccount) -> None:
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:  # a concurrent request took the name between check and save
        raise Invalid(
            f"A service account named '{account.name}' already exists in this organization.",
            field="name",
            code="duplicate",
        ) from None


# ---------------------------------------------------------------------------------------------
# Accounts


@transaction.atomic
def service_account_create(
    *,
    actor: Actor,
    name: str,
    description: str | None = None,
    organization_id: int | None = None,
    flags: dict[str, bool] | None = None,
) -> ServiceAccount:
    """Superusers create in any organization (and must name it); admins in their own."""
    if organization_id is None:
        if is_superuser(actor):
            raise Invalid(
                "organization_id is required when a superuser creates a service account.", field="organization_id"
            )
        organization_id = actor.organization_id
    require(
        actor,
        Action.SA_MANAGE,
        Organization(pk=organization_id),
        message="Admins can only manage service accounts of their own organization",
    )
    if organization_id is None or not Organization.objects.filter(pk=organization_id).exists():
        raise Invalid(f"Organization {organization_id} does not exist.", field="organization_id")
    name = _clean_name(name)
    _check_name_free(name, organization_id)
    account = ServiceAccount(
        name=name,
        description=description,
        organization_id=organization_id,
        created_by_id=_creator_id(actor),
        **{flag: bool(value) for flag, value in (flags or {}).items() if flag in CAPABILITY_FLAGS},
    )
    _save(account)
    _audit(
        AuditAction.SERVICE_ACCOUNT_CREATE,
        actor=actor,
        account=account,
        detail=f"created service account {account.name}",
    )
    return account


@transaction.atomic
def service_account_update(*, actor: Actor, account: ServiceAccount, data: dict[str, Any]) -> ServiceAccount:
    """Change `name`, `description`, capability flags; `disabled` true/false disables or enables."""
    require(actor, Action.SA_MANAGE, account)
    account = ServiceAccount.objects.select_for_update().get(pk=account.pk)
    changed: list[str] = []
    if "name" in data:
        name = _clean_name(data["name"])
        if name != account.name:
            _check_name_free(name, account.organization_id, exclude_pk=account.pk)
            account.name = name
            changed.append("name")
    if "description" in data and data["description"] != account.description:
        account.description = data["description"]
        changed.append("description")
    for flag in CAPABILITY_FLAGS:
        if flag in data and bool(data[flag]) != getattr(account, flag):
            setattr(account, flag, bool(data[flag]))
            changed.append(flag)
    if "disabled" in data and data["disabled"] is not None:
        if data["disabled"] and account.disabled_at is None:
            account.disabled_at = timezone.now()
            changed.append("disabled")
        elif not data["disabled"] and account.disabled_at is not None:
            account.disabled_at = None
            changed.append("enabled")
    _save(account)
    _audit(
        AuditAction.SERVICE_ACCOUNT_UPDATE,
        actor=actor,
        account=account,
        detail=f"updated service account {account.name}: {', '.join(changed) or 'no changes'}",
    )
    return account


@transaction.atomic
def service_account_delete(*, actor: Actor, account: ServiceAccount) -> None:
    require(actor, Action.SA_MANAGE, account)
    account = ServiceAccount.objects.select_for_update().get(pk=account.pk)
    count = account.tokens.count()
    _audit(
        AuditAction.SERVICE_ACCOUNT_DELETE,
        actor=actor,
        account=account,
        detail=f"deleted service account {account.name} and its {count} token(s)",
    )
    account.delete()  # tokens and policy go with it (CASCADE)


# ---------------------------------------------------------------------------------------------
# Tokens


@transaction.atomic
def token_create(
    *, actor: Actor, account: ServiceAccount, name: str | None = None, expires_at: datetime | None = None
) -> tuple[ServiceAccountToken, str]:
    """A new token and its plaintext, which is shown once and never stored."""
    require(actor, Action.SA_MANAGE, account)
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid("expires_at must be in the future.", field="expires_at")
    minted = tokens.mint()
    token = ServiceAccountToken.objects.create(
        service_account=account,
        public_id=minted.public_id,
        secret_hash=tokens.hash_secret(minted.secret),
        name=(name or "").strip() or None,
        expires_at=expires_at,
        created_by_id=_creator_id(actor),
    )
    _audit(
        AuditAction.SERVICE_ACCOUNT_TOKEN_CREATE,
        actor=actor,
        account=account,
        detail=f"minted token {token.public_id} (id {token.pk}) for service account {account.name}",
    )
    return token, minted.plaintext


@transaction.atomic
def token_revoke(*, actor: Actor, account: ServiceAccount, token_id: int) -> ServiceAccountToken:
    """Revoke one token of `account` at once; revoking a revoked token changes nothing."""
    require(actor, Action.SA_MANAGE, account)
    token = ServiceAccountToken.objects.select_for_update().filter(pk=token_id, service_account=account).first()
    if token is None:
        raise NotFound(f"Service account {account.pk} has no token {token_id}.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        _audit(
            AuditAction.SERVICE_ACCOUNT_TOKEN_REVOKE,
            actor=actor,
            account=account,
            detail=f"revoked token {token.public_id} (id {token.pk}) of service account {account.name}",
        )
    return token


# ---------------------------------------------------------------------------------------------
# Issuance policies


def policy_get(*, actor: Actor, account: ServiceAccount) -> IssuancePolicy:
    require(actor, Action.SA_MANAGE, account)
    policy = IssuancePolicy.objects.filter(service_account=account).first()
    if policy is None:
        raise NotFound(f"Service account {account.pk} has no issuance policy: it may issue nothing (deny by default).")
    return policy


@transaction.atomic
def policy_set(*, actor: Actor, account: ServiceAccount, data: dict[str, Any]) -> IssuancePolicy:
    """Create or replace the policy. Every field is checked before anything is written."""
    require(actor, Action.SA_MANAGE, account)
    try:
        rules = issuance.validate_rules(
            **{name: data.get(name) or [] for name in POLICY_FIELDS if name != "max_validity_days"},
            max_validity_days=data.get("max_validity_days"),
            certificate_types=[kind.value for kind in pki.CertificateType],
            max_days=MAX_VALIDITY_DAYS,
        )
    except issuance.PolicyInvalid as exc:
        raise Invalid(f"{exc.field}: {exc.message}", field=exc.field) from None
    foreign = _foreign_cas(rules.allowed_ca_ids, account.organization_id)
    if foreign:
        raise Invalid(
            f"allowed_ca_ids: CA {foreign[0]} does not exist in the service account's organization.",
            field="allowed_ca_ids",
        )
    values: dict[str, Any] = {name: list(getattr(rules, name)) for name in POLICY_FIELDS if name != "max_validity_days"}
    values["max_validity_days"] = rules.max_validity_days
    policy, created = IssuancePolicy.objects.update_or_create(service_account=account, defaults=values)
    _audit(
        AuditAction.SERVICE_ACCOUNT_UPDATE,
        actor=actor,
        account=account,
        detail=f"{'set' if created else 'replaced'} the issuance policy of service account {account.name}",
    )
    return policy


def _foreign_cas(ca_ids: Iterable[int], organization_id: int) -> list[int]:
    """The ids among `ca_ids` that are not CAs of the organization (missing ones included)."""
    ids = list(ca_ids)
    own = set(Organization(pk=organization_id).cas.filter(pk__in=ids).values_list("pk", flat=True))
    return [ca_id for ca_id in ids if ca_id not in own]


@transaction.atomic
def policy_clear(*, actor: Actor, account: ServiceAccount) -> None:
    """Back to deny-all. Clearing an absent policy changes nothing."""
    require(actor, Action.SA_MANAGE, account)
    deleted, _ = IssuancePolicy.objects.filter(service_account=account).delete()
    if deleted:
        _audit(
            AuditAction.SERVICE_ACCOUNT_UPDATE,
            actor=actor,
            account=account,
            detail=f"cleared the issuance policy of service account {account.name}",
        )


def rules_of(policy: IssuancePolicy) -> issuance.PolicyRules:
    return issuance.PolicyRules(
        cn_patterns=tuple(policy.cn_patterns),
        san_dns_patterns=tuple(policy.san_dns_patterns),
        san_ip_cidrs=tuple(policy.san_ip_cidrs),
        san_email_domains=tuple(policy.san_email_domains),
        allowed_ca_ids=tuple(policy.allowed_ca_ids),
        allowed_certificate_types=tuple(policy.allowed_certificate_types),
        max_validity_days=policy.max_validity_days,
    )
