"""User writes: create (with the first-user bootstrap), update, delete, login.

Each service checks the payload-dependent parts of the policy, enforces the invariants of
SPEC §3 and records its audit entry in the same transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import CAPABILITY_FLAGS, Role, SystemState, User
from accounts.policy import Action, can, require
from accounts.tokens import TokenPair, session_start, sessions_revoke_all
from audit.models import AuditAction
from audit.services import audit_record
from pkiserver.errors import Invalid, PolicyDenied

if TYPE_CHECKING:
    from accounts.actors import Actor, Anyone

PROFILE_FIELDS = ("email", "password")
ADMIN_FIELDS = ("role", "is_active", "organization_id")
FIELD_ACTIONS: dict[str, Action] = {
    **{name: Action.USER_EDIT_PROFILE for name in PROFILE_FIELDS},
    **{name: Action.USER_SET_FLAGS for name in CAPABILITY_FLAGS},
    **{name: Action.USER_SET_ROLE for name in ADMIN_FIELDS},
}


class LoginFailed(Invalid):
    status_code = 401
    default_code = "invalid_credentials"


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise Invalid(" ".join(exc.messages), field="password") from None


def _check_unique(*, username: str | None = None, email: str | None = None, exclude_pk: int | None = None) -> None:
    others = User.objects.exclude(pk=exclude_pk) if exclude_pk else User.objects.all()
    if username is not None and others.filter(username__iexact=username).exists():
        raise Invalid(f"A user with username '{username}' already exists.", field="username", code="duplicate")
    if email is not None and others.filter(email__iexact=email).exists():
        raise Invalid(f"A user with email '{email}' already exists.", field="email", code="duplicate")


def _organization_model() -> Any:
    """`orgs.Organization`, reached through the user's foreign key: orgs sits above accounts."""
    return User.organization.field.related_model


def _organization(org_id: int | None) -> Any:
    if org_id is None:
        return None
    org = _organization_model().objects.filter(pk=org_id).first()
    if org is None:
        raise Invalid(f"Organization {org_id} does not exist.", field="organization_id")
    return org


def _claim_first_user() -> bool:
    """True for exactly one caller ever: the one that creates the first user."""
    if User.objects.exists():
        return False
    try:
        with transaction.atomic():
            SystemState.objects.create(pk=1)
    except IntegrityError:
        return False
    return True


def _normalize_email(email: str) -> str:
    return User.objects.normalize_email(email.strip())


@transaction.atomic
def user_create(
    *,
    actor: Anyone,
    username: str,
    email: str,
    password: str,
    role: str = Role.USER,
    organization_id: int | None = None,
    flags: dict[str, bool] | None = None,
    console: bool = False,
) -> User:
    """Create a user. `console=True` is the server operator (`manage.py bootstrap --force`):
    the API's policy is skipped, validation is not."""
    flags = {name: bool(value) for name, value in (flags or {}).items() if name in CAPABILITY_FLAGS}
    email = _normalize_email(email)
    first = _claim_first_user()
    if not first and not console:
        require(actor, Action.USER_CREATE, message="Registration is closed; log in to create users")
        if role != Role.USER:
            require(
                actor, Action.USER_CREATE_PRIVILEGED, message="Only a superuser can create admin or superuser accounts"
            )
        if organization_id is None and getattr(actor, "role", None) == Role.ADMIN:
            organization_id = getattr(actor, "organization_id", None)  # an admin's users join the admin's organization
        if organization_id is not None or any(flags.values()):
            org_target = _organization_model()(pk=organization_id) if organization_id is not None else None
            if not can(actor, Action.USER_CREATE_IN_ORG, org_target):
                raise PolicyDenied("Not enough permissions to assign an organization or capability flags")
    org = _organization(organization_id)
    user = User(username=username, email=email, role=role, organization=org, **flags)
    _check_unique(username=username, email=email)
    _check_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        _check_unique(username=username, email=email)
        raise
    how = " (first user)" if first else " (from the server console)" if console else ""
    audit_record(
        action=AuditAction.USER_CREATE,
        actor=actor if not first else user,
        target=user,
        detail=f"created user {user.username} with role {user.role}{how}",
    )
    return user


def _changes(user: User, data: dict[str, Any]) -> dict[str, Any]:
    """The fields of `data` that would change `user` (the password always counts)."""
    changed = {}
    for name, value in data.items():
        if name == "password" or getattr(user, name) != value:
            changed[name] = value
    return changed


def _lock(user: User) -> User:
    """Lock `user`'s row; for a superuser, first every superuser row in id order, so that two
    superusers demoting each other queue up instead of deadlocking."""
    if user.role == Role.SUPERUSER:
        list(User.objects.select_for_update().filter(role=Role.SUPERUSER).order_by("pk").values_list("pk", flat=True))
    return User.objects.select_for_update().get(pk=user.pk)


def _ensure_superuser_remains(user: User) -> None:
    """Refuse to remove the last active superuser (callers hold the superuser rows: see _lock)."""
    if user.role != Role.SUPERUSER or not user.is_active:
        return
    others = User.objects.active_superusers().exclude(pk=user.pk)
    if not others.exists():
        raise Invalid("The last active superuser cannot be removed, demoted or deactivated.", code="last_superuser")


@transaction.atomic
def user_update(*, actor: Actor, user: User, data: dict[str, Any]) -> User:
    unknown = set(data) - set(FIELD_ACTIONS)
    if unknown:
        raise Invalid(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    require(actor, Action.USER_VIEW, user)
    user = _lock(user)
    if "email" in data:
        data = {**data, "email": _normalize_email(data["email"])}
    changes = _changes(user, data)
    refused = sorted(name for name in changes if not can(actor, FIELD_ACTIONS[name], user))
    if refused:
        raise PolicyDenied(f"Not enough permissions to change: {', '.join(refused)}")
    changed_names = sorted(changes)
    if user.pk == actor.pk and user.role == Role.SUPERUSER:
        if changes.get("role", Role.SUPERUSER) != Role.SUPERUSER or changes.get("is_active", True) is False:
            raise Invalid("A superuser cannot demote or deactivate themselves.", code="self_demotion")
    if changes.get("role", Role.SUPERUSER) != Role.SUPERUSER or changes.get("is_active", True) is False:
        _ensure_superuser_remains(user)
    if "email" in changes:
        _check_unique(email=changes["email"], exclude_pk=user.pk)
    cleared: list[str] = []
    if "organization_id" in changes:
        user.organization = _organization(changes.pop("organization_id"))
        cleared = clear_flags_on_move(user, keep=data)
    password = changes.pop("password", None)
    for name, value in changes.items():
        setattr(user, name, value)
    if password is not None:
        _check_password(password, user)
        user.set_password(password)
    user.save()
    ending = [name for name in SESSION_ENDING_FIELDS if name in changed_names]
    if ending:
        sessions_revoke_all(user=user, reason=SESSION_END_REASONS.get(tuple(ending), "account_change"))
    detail = f"updated user {user.username}: {', '.join(changed_names) or 'no changes'}"
    if cleared:
        detail += f"; capability flags cleared by the move: {', '.join(cleared)}"
    audit_record(
        action=AuditAction.USER_UPDATE,
        actor=actor,
        target=user,
        detail=detail,
    )
    return user


# A change of any of these ends every session of the user, API and console alike (SPEC §5).
SESSION_ENDING_FIELDS = ("is_active", "organization_id", "password", "role")
SESSION_END_REASONS: dict[tuple[str, ...], str] = {("password",): "password_change", ("is_active",): "deactivated"}


def clear_flags_on_move(user: User, *, keep: Collection[str] = ()) -> list[str]:
    """Clear the capability flags of a user moving between organizations (the old organization
    granted them), except those named in `keep`; the caller saves. Returns the names cleared."""
    cleared = [name for name in CAPABILITY_FLAGS if name not in keep and getattr(user, name)]
    for name in cleared:
        setattr(user, name, False)
    return cleared


@transaction.atomic
def user_delete(*, actor: Actor, user: User) -> None:
    require(actor, Action.USER_DELETE, user)
    if user.pk == actor.pk:
        raise Invalid("A superuser cannot delete themselves.", code="self_delete")
    user = _lock(user)
    _ensure_superuser_remains(user)
    audit_record(
        action=AuditAction.USER_DELETE,
        actor=actor,
        target=user,
        detail=f"deleted user {user.username}",
    )
    user.delete()


def user_login(*, username: str, password: str, request: Any = None) -> TokenPair:
    """Check credentials and open a session. Unknown user and wrong password answer alike."""
    user = authenticate(request, username=username, password=password)
    if user is None:
        known = User.objects.filter(username=username).only("pk", "organization_id").first()
        audit_record(
            action=AuditAction.LOGIN_FAILURE,
            username=username[:150],
            target=known,
            resource_type="user",  # also when no such user exists
            detail="login failed",
        )
        raise LoginFailed("Incorrect username or password")
    with transaction.atomic():
        pair = session_start(user=user)
        audit_record(
            action=AuditAction.LOGIN_SUCCESS,
            actor=user,
            target=user,
            detail="login",
        )
    return pair
