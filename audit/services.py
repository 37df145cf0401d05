"""Writing audit entries. Call `audit_record` inside the transaction of the action it records."""

from __future__ import annotations

from typing import Any

from audit.models import AuditAction, AuditLog


def audit_record(
    *,
    action: AuditAction,
    actor: Any = None,
    organization_id: int | None = None,
    resource_type: str = "",
    resource_id: int | None = None,
    detail: str = "",
    username: str | None = None,
) -> AuditLog:
    """Record `action` by `actor` (a user, a service account or None for anonymous)."""
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    user_id = actor.pk if authenticated and not getattr(actor, "is_service_account", False) else None
    name = username if username is not None else (getattr(actor, "username", "") if authenticated else "")
    return AuditLog.objects.create(
        action=action,
        user_id=user_id,
        username=name or "",
        organization_id=organization_id,
        resource_type=resource_type,
        resource_id=resource_id,
        detail=detail,
    )
