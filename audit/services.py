"""Writing audit entries. Call `audit_record` inside the transaction of the action it records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Model

from audit.models import AuditAction, AuditLog

if TYPE_CHECKING:
    from accounts.actors import Actor

# What an entry calls each kind of object (by model name), where that differs from the model name.
RESOURCE_TYPES = {"certificateauthority": "ca", "serviceaccount": "service_account", "acmeaccount": "acme_account"}
_FROM_TARGET: Any = object()


def resource_type_of(target: Model) -> str:
    name = target._meta.model_name or ""
    return RESOURCE_TYPES.get(name, name)


def _organization_of(target: Model) -> int | None:
    if target._meta.model_name == "organization":
        return target.pk
    return getattr(target, "organization_id", None)


def audit_entry(
    *,
    action: AuditAction,
    actor: Actor | None = None,
    target: Model | None = None,
    detail: str = "",
    organization_id: int | None = _FROM_TARGET,
    resource_type: str | None = None,
    resource_id: int | None = _FROM_TARGET,
    username: str | None = None,
) -> AuditLog:
    """The (unsaved) entry for `action` by `actor` (a user, a service account or None for
    anonymous) on `target`, whose organization, type and id it names unless given explicitly
    (a failed login has no object)."""
    if organization_id is _FROM_TARGET:
        organization_id = _organization_of(target) if target is not None else None
    if resource_id is _FROM_TARGET:
        resource_id = target.pk if target is not None else None
    if resource_type is None:
        resource_type = resource_type_of(target) if target is not None else ""
    authenticated = actor is not None and actor.is_authenticated
    user_id = actor.pk if authenticated and not actor.is_service_account else None  # type: ignore[union-attr]
    name = username if username is not None else (actor.username if authenticated else "")  # type: ignore[union-attr]
    return AuditLog(
        action=action,
        user_id=user_id,
        username=name or "",
        organization_id=organization_id,
        resource_type=resource_type,
        resource_id=resource_id,
        detail=detail,
    )


def audit_record(**entry: Any) -> AuditLog:
    """Record an entry (the arguments of `audit_entry`) through `AuditLog.save()`, its append-only guard."""
    log = audit_entry(**entry)
    log.save()
    return log
