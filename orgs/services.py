"""Organization writes: create, update, delete and membership, each audited."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from accounts.models import User
from accounts.policy import Action, require
from accounts.services import clear_flags_on_move
from accounts.tokens import sessions_revoke_all
from audit.models import AuditAction
from audit.services import audit_record
from orgs.models import Organization
from pkiserver.errors import Conflict, Invalid

if TYPE_CHECKING:
    from accounts.actors import Actor


def _check_name(name: str, exclude_pk: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise Invalid("Organization name must not be empty.", field="name")
    others = Organization.objects.exclude(pk=exclude_pk) if exclude_pk else Organization.objects.all()
    if others.filter(name__iexact=name).exists():
        raise Invalid(f"An organization named '{name}' already exists.", field="name", code="duplicate")
    return name


def _save(org: Organization) -> None:
    try:
        with transaction.atomic():
            org.save()
    except IntegrityError:
        raise Invalid(f"An organization named '{org.name}' already exists.", field="name", code="duplicate") from None


@transaction.atomic
def organization_create(*, actor: Actor, name: str, description: str | None = None) -> Organization:
    require(actor, Action.ORG_CREATE)
    org = Organization(name=_check_name(name), description=description)
    _save(org)
    audit_record(
        action=AuditAction.ORG_CREATE,
        actor=actor,
        target=org,
        detail=f"created organization {org.name}",
    )
    return org


@transaction.atomic
def organization_update(*, actor: Actor, org: Organization, data: dict[str, Any]) -> Organization:
    require(actor, Action.ORG_UPDATE, org)
    org = Organization.objects.select_for_update().get(pk=org.pk)
    if "name" in data:
        org.name = _check_name(data["name"], exclude_pk=org.pk)
    if "description" in data:
        org.description = data["description"]
    _save(org)
    audit_record(
        action=AuditAction.ORG_UPDATE,
        actor=actor,
        target=org,
        detail=f"updated organization {org.name}: {', '.join(sorted(data)) or 'no changes'}",
    )
    return org


@transaction.atomic
def organization_delete(*, actor: Actor, org: Organization) -> None:
    require(actor, Action.ORG_DELETE, org)
    org = Organization.objects.select_for_update().get(pk=org.pk)
    members = org.users.count()
    if members:
        raise Invalid(
            f"Organization '{org.name}' still has {members} user(s); remove them first.", code="organization_not_empty"
        )
    left = _objects_left(org)
    if left:
        raise Conflict(f"Organization '{org.name}' still has {left}; delete them first.", code="organization_in_use")
    audit_record(
        action=AuditAction.ORG_DELETE,
        actor=actor,
        target=org,
        detail=f"deleted organization {org.name}",
    )
    org.delete()


def _objects_left(org: Organization) -> str:
    """What still belongs to `org` besides its users, as `2 CA(s) and 1 service account(s)`, or ''."""
    counts = {
        "CA(s)": org.cas.count(),
        "certificate(s)": org.certificates.count(),
        "service account(s)": org.service_accounts.count(),
    }
    parts = [f"{count} {noun}" for noun, count in counts.items() if count]
    return " and ".join([", ".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else "".join(parts)


@transaction.atomic
def organization_add_user(*, actor: Actor, org: Organization, user: User) -> User:
    require(actor, Action.ORG_MANAGE_MEMBERS, org)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.organization_id == org.pk:
        return user
    # Pulling someone out of their current organization needs authority over that one too.
    require(actor, Action.USER_MOVE, user, message="Not enough permissions to move this user between organizations")
    user.organization = org
    cleared = clear_flags_on_move(user)
    user.save(update_fields=["organization", *cleared, "updated_at"])
    sessions_revoke_all(user=user, reason="moved")
    audit_record(
        action=AuditAction.ORG_ADD_USER,
        actor=actor,
        target=user,
        organization_id=org.pk,  # the organization joined or left
        detail=f"added user {user.username} to organization {org.name}" + _cleared_note(cleared),
    )
    return user


@transaction.atomic
def organization_remove_user(*, actor: Actor, org: Organization, user: User) -> User:
    require(actor, Action.ORG_MANAGE_MEMBERS, org)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.organization_id != org.pk:
        raise Invalid(f"User {user.username} is not a member of organization {org.name}.", code="not_a_member")
    require(actor, Action.USER_MOVE, user, message="Not enough permissions to move this user between organizations")
    user.organization = None
    cleared = clear_flags_on_move(user)
    user.save(update_fields=["organization", *cleared, "updated_at"])
    sessions_revoke_all(user=user, reason="moved")
    audit_record(
        action=AuditAction.ORG_REMOVE_USER,
        actor=actor,
        target=user,
        organization_id=org.pk,  # the organization joined or left
        detail=f"removed user {user.username} from organization {org.name}" + _cleared_note(cleared),
    )
    return user


def _cleared_note(cleared: list[str]) -> str:
    return f"; capability flags cleared by the move: {', '.join(cleared)}" if cleared else ""
