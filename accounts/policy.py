"""The authorization policy: who may do what, written once as a table (SPEC §3-§5, §10).

Every DRF permission class, queryset scope and admin page asks this module. Rules read only
attributes of the actor and the target, so they are testable without a database; the one
exception is NO_USER_YET (the first-user bootstrap), which asks whether any user exists.

Decision order: an inactive or anonymous actor gets only what is open to anyone; an active
superuser may do everything; otherwise the action's rule decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeGuard

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q

from pkiserver.errors import PolicyDenied

if TYPE_CHECKING:
    from accounts.actors import Actor, Anyone


class Action(StrEnum):
    ADMIN_CONSOLE = "admin.enter"
    ADMIN_VIEW_USER = "admin.view_user"  # a person's page in the admin console

    USER_CREATE = "user.create"
    USER_CREATE_OR_BOOTSTRAP = "user.create_or_bootstrap"  # POST /users/: a user, or the very first one
    USER_CREATE_PRIVILEGED = "user.create_privileged"  # a new admin or superuser
    USER_CREATE_IN_ORG = "user.create_in_org"  # target: the organization
    USER_LIST = "user.list"
    USER_VIEW = "user.view"
    USER_EDIT_PROFILE = "user.edit_profile"  # email, password
    USER_SET_FLAGS = "user.set_flags"  # capability flags
    USER_SET_ROLE = "user.set_role"  # role, is_active, organization_id
    USER_DELETE = "user.delete"
    USER_MOVE = "user.move"  # take a user out of their current organization

    ORG_CREATE = "org.create"
    ORG_LIST = "org.list"
    ORG_LIST_ALL = "org.list_all"
    ORG_VIEW = "org.view"
    ORG_UPDATE = "org.update"
    ORG_DELETE = "org.delete"
    ORG_VIEW_MEMBERS = "org.view_members"
    ORG_MANAGE_MEMBERS = "org.manage_members"

    AUDIT_VIEW = "audit.view"

    CA_LIST = "ca.list"
    CA_VIEW = "ca.view"
    CA_CREATE = "ca.create"  # target: the organization, or the parent CA
    CA_UPDATE = "ca.update"  # description, allow_leaf_certs, ACME settings
    CA_DELETE = "ca.delete"
    CA_REVOKE = "ca.revoke"  # revoke an intermediate at its parent
    CA_EXPORT_KEY = "ca.export_key"
    CERT_LIST = "cert.list"
    CERT_VIEW = "cert.view"
    CERT_CREATE = "cert.create"  # target: the issuing CA
    CERT_CREATE_CA = "cert.create_ca"  # a certificate with CA:TRUE; target: the issuing CA
    CERT_REVOKE = "cert.revoke"
    CERT_EXPORT_KEY = "cert.export_key"

    SA_LIST = "sa.list"
    SA_MANAGE = "sa.manage"  # target: the service account, or its organization


def org_of(target: Any) -> int | None:
    """The organization id a target belongs to (an Organization is its own)."""
    if target is None:
        return None
    if getattr(target, "_meta", None) is not None and target._meta.label == "orgs.Organization":
        return target.pk
    return getattr(target, "organization_id", None)


def _same_org(actor: Actor, target: Any) -> bool:
    org = org_of(target)
    return org is not None and org == actor.organization_id


@dataclass(frozen=True)
class Rule:
    name: str
    test: Callable[[Actor, Any], bool]

    def __call__(self, actor: Actor, target: Any) -> bool:
        return bool(self.test(actor, target))

    def __or__(self, other: Rule) -> Rule:
        return Rule(f"{self.name} | {other.name}", lambda a, t: self(a, t) or other(a, t))


def capable(flag: str) -> Rule:
    """A member of the target's organization holding a capability flag."""
    return Rule(f"capable({flag})", lambda a, t: _same_org(a, t) and getattr(a, flag, False))


ANYONE = Rule("anyone", lambda a, t: True)
SUPERUSER_ONLY = Rule("superuser only", lambda a, t: False)
AUTHENTICATED = Rule("authenticated", lambda a, t: True)
REGISTRATION = Rule(
    "anyone while registration is open",
    lambda a, t: settings.ALLOW_UNAUTHENTICATED_REGISTRATION or a.is_authenticated,
)
# The first user needs no login, even with registration closed (SPEC §3). This only opens the
# route: accounts.services.user_create makes sure exactly one request becomes that first user.
NO_USER_YET = Rule("anyone while no user exists", lambda a, t: not get_user_model().objects.exists())
REGISTRATION_OR_BOOTSTRAP = REGISTRATION | NO_USER_YET
SELF = Rule("self", lambda a, t: t is not None and a.pk == t.pk and not a.is_service_account)
ANY_ADMIN = Rule("admin", lambda a, t: a.role == "admin")
ORG_ADMIN = Rule("admin of the organization", lambda a, t: a.role == "admin" and _same_org(a, t))
# The list itself (no target) is open to every admin; one entry only to its organization's admins.
ENTRY_ORG_ADMIN = Rule(
    "admin (of the entry's organization)", lambda a, t: a.role == "admin" and (t is None or _same_org(a, t))
)
# An admin's authority over the people of their organization stops at superusers: resetting a
# superuser's password would hand the admin the whole server.
USER_ORG_ADMIN = Rule(
    "admin of the user's organization (not over a superuser)",
    lambda a, t: ORG_ADMIN(a, t) and t.role != "superuser",
)
ORG_MEMBER = Rule("member of the organization", _same_org)
# Tenancy comes before authorship: a creator who left the organization keeps no right over
# what they made there (SPEC §5).
CREATOR = Rule(
    "creator, still a member of the organization",
    lambda a, t: not a.is_service_account and getattr(t, "created_by_user_id", None) == a.pk and _same_org(a, t),
)
UNASSIGNED = Rule("user without organization", lambda a, t: t.organization_id is None)
# Moving someone between organizations: an admin may take in a user without one, or move a
# member of their own; never a superuser, and never themselves.
MOVABLE_BY_ADMIN = Rule(
    "a non-superuser without organization, or one of an admin's other members",
    lambda a, t: (
        t.role != "superuser" and (UNASSIGNED(a, t) or (a.role == "admin" and _same_org(a, t) and t.pk != a.pk))
    ),
)

# Rules open to callers that are not logged in.
_OPEN_RULES = {ANYONE, REGISTRATION, NO_USER_YET, REGISTRATION_OR_BOOTSTRAP}

RULES: dict[Action, Rule] = {
    # The admin console (SPEC §14): admins get in and see their organization only (SCOPES).
    Action.ADMIN_CONSOLE: ANY_ADMIN,
    Action.ADMIN_VIEW_USER: SELF | ORG_ADMIN,
    # Users (SPEC §3 and the Users API page).
    # The route lets in whoever may register, and anyone while no user exists (the bootstrap);
    # the service then requires USER_CREATE of every request but the one that becomes the first user.
    Action.USER_CREATE_OR_BOOTSTRAP: REGISTRATION_OR_BOOTSTRAP,
    Action.USER_CREATE: REGISTRATION,
    Action.USER_CREATE_PRIVILEGED: SUPERUSER_ONLY,
    Action.USER_CREATE_IN_ORG: ORG_ADMIN,
    Action.USER_LIST: SUPERUSER_ONLY,
    Action.USER_VIEW: SELF | ANY_ADMIN,
    Action.USER_EDIT_PROFILE: SELF | USER_ORG_ADMIN,
    Action.USER_SET_FLAGS: USER_ORG_ADMIN,
    Action.USER_SET_ROLE: SUPERUSER_ONLY,
    Action.USER_DELETE: SUPERUSER_ONLY,
    Action.USER_MOVE: MOVABLE_BY_ADMIN,
    # Organizations (SPEC §4).
    Action.ORG_CREATE: ANY_ADMIN,
    Action.ORG_LIST: AUTHENTICATED,
    Action.ORG_LIST_ALL: SUPERUSER_ONLY,
    Action.ORG_VIEW: ORG_MEMBER,
    Action.ORG_UPDATE: ORG_ADMIN,
    Action.ORG_DELETE: SUPERUSER_ONLY,
    Action.ORG_VIEW_MEMBERS: ORG_MEMBER,
    Action.ORG_MANAGE_MEMBERS: ORG_ADMIN,
    # Audit log (SPEC §10): admins see their organization's entries (see SCOPES).
    Action.AUDIT_VIEW: ENTRY_ORG_ADMIN,
    # CAs and certificates (SPEC §5).
    Action.CA_LIST: AUTHENTICATED,  # rows scoped by SCOPES["ca"]
    Action.CA_VIEW: CREATOR | ORG_MEMBER,
    Action.CA_CREATE: ORG_ADMIN | capable("can_create_ca"),
    Action.CA_UPDATE: ORG_ADMIN | capable("can_create_ca"),
    Action.CA_DELETE: CREATOR | ORG_ADMIN | capable("can_delete_ca"),
    Action.CA_REVOKE: CREATOR | ORG_ADMIN | capable("can_delete_ca"),
    Action.CA_EXPORT_KEY: CREATOR | ORG_ADMIN | capable("can_export_private_key"),
    Action.CERT_LIST: AUTHENTICATED,  # rows scoped by SCOPES["certificate"]
    Action.CERT_VIEW: CREATOR | ORG_MEMBER,
    Action.CERT_CREATE: CREATOR | ORG_ADMIN | capable("can_create_cert"),
    # A certificate with CA:TRUE is a subordinate CA: CERT_CREATE and this, on the issuing CA.
    Action.CERT_CREATE_CA: ORG_ADMIN | capable("can_create_ca"),
    Action.CERT_REVOKE: CREATOR | ORG_ADMIN | capable("can_revoke_cert"),
    Action.CERT_EXPORT_KEY: CREATOR | ORG_ADMIN | capable("can_export_private_key"),
    # Service accounts (SPEC §13): admins manage their organization's (rows: SCOPES).
    Action.SA_LIST: ANY_ADMIN,
    Action.SA_MANAGE: ORG_ADMIN,
}

# Service accounts act like a `user` of their organization, but never manage people.
HUMAN_ONLY_PREFIXES = ("admin.", "user.", "org.", "sa.")

# Row scoping for lists: kind -> filter for a non-superuser actor.
SCOPES: dict[str, Callable[[Actor], Q]] = {
    "organization": lambda a: Q(pk=a.organization_id) if a.organization_id else Q(pk__in=[]),
    "user": lambda a: Q(pk=a.pk),
    # The people an actor manages in the admin console: an admin, their organization's.
    "member": lambda a: (
        Q(pk=a.pk) | Q(organization_id=a.organization_id) if a.role == "admin" and a.organization_id else Q(pk=a.pk)
    ),
    "audit": lambda a: (
        Q(organization_id=a.organization_id) if a.role == "admin" and a.organization_id else Q(pk__in=[])
    ),
    "ca": lambda a: Q(organization_id=a.organization_id) if a.organization_id else Q(pk__in=[]),
    "certificate": lambda a: Q(organization_id=a.organization_id) if a.organization_id else Q(pk__in=[]),
    "service_account": lambda a: (
        Q(organization_id=a.organization_id) if a.role == "admin" and a.organization_id else Q(pk__in=[])
    ),
}


def is_superuser(actor: Anyone) -> bool:
    return _acting(actor) and not actor.is_service_account and actor.role == "superuser"


def _acting(actor: Anyone) -> TypeGuard[Actor]:
    """An authenticated, active actor (a user or a service account): not anonymous, not disabled."""
    return actor is not None and actor.is_authenticated and actor.is_active


def can(actor: Anyone, action: Action, target: Any = None) -> bool:
    rule = RULES[action]
    if _acting(actor):
        if actor.is_service_account and action.value.startswith(HUMAN_ONLY_PREFIXES):
            return False
        if is_superuser(actor):
            return True
        return rule(actor, target)
    return rule in _OPEN_RULES and rule(_Anonymous, target)


def require(actor: Anyone, action: Action, target: Any = None, message: str | None = None) -> None:
    if not can(actor, action, target):
        raise PolicyDenied(message or "Not enough permissions")


def visible_q(actor: Anyone, kind: str) -> Q:
    """Rows of `kind` the actor may list."""
    if is_superuser(actor):
        return Q()
    if _acting(actor):
        return SCOPES[kind](actor)
    return Q(pk__in=[])


class _AnonymousActor:
    """Who the open rules see when no actor is acting (anonymous, disabled or nobody): an `Actor`
    without a role, an organization or any capability."""

    is_authenticated = False
    is_active = False
    is_service_account = False
    pk = None
    role = ""
    organization_id = None
    username = ""
    can_create_ca = can_create_cert = can_revoke_cert = can_export_private_key = can_delete_ca = False


_Anonymous = _AnonymousActor()
