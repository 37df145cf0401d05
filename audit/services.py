"""Writing audit entries. Call `audit_record` inside the transaction of the action it records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.db.models import Model

from audit.models import AuditAction, AuditLog
from pkiserver.db.rows import Inserts

M = TypeVar("M", bound=Model)
_entries = Inserts(AuditLog)


def _entry_fields(
    *,
    action: AuditAction,
    actor: Any = None,
    organization_id: int | None = None,
    resource_type: str = "",
    resource_id: int | None = None,
    detail: str = "",
    username: str | None = None,
) -> dict[str, Any]:
    """The fields of an entry for `action` by `actor` (a user, a service account or None for anonymous)."""
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    user_id = actor.pk if authenticated and not getattr(actor, "is_service_account", False) else None
    name = username if username is not None else (getattr(actor, "username", "") if authenticated else "")
    return {
        "action": action,
        "user_id": user_id,
        "username": name or "",
        "organization_id": organization_id,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "detail": detail,
    }


def audit_entry(**entry: Any) -> AuditLog:
    """The (unsaved) entry; the arguments of `_entry_fields`."""
    return AuditLog(**_entry_fields(**entry))


def audit_record(**entry: Any) -> AuditLog:
    """Record an entry; the arguments of `_entry_fields`."""
    return AuditLog.objects.create(**_entry_fields(**entry))


def create_audited(
    obj: M, inserts: Inserts[M], where: tuple[str, Sequence[Any]] | None = None, **entry: Any
) -> M | None:
    """Write the new `obj` and its audit entry (the arguments of `_entry_fields` but `resource_id`,
    which is `obj`'s new id), in one statement where the database allows it; neither, and None,
    when the SQL condition `where` (see `Inserts.insert_with`) does not hold."""
    return inserts.insert_with(obj, _entries, audit_entry(**entry), "resource_id", where=where)
