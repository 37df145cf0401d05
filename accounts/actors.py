"""Who acts: the one interface users and service accounts share, read by the policy, services and audit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from pkiserver.errors import PolicyDenied


class Actor(Protocol):
    """A user (`accounts.models.User`) or a service account (`serviceaccounts.models.ServiceAccount`)."""

    @property
    def pk(self) -> Any: ...
    @property
    def is_authenticated(self) -> bool: ...
    @property
    def is_active(self) -> bool: ...
    @property
    def is_service_account(self) -> bool: ...
    @property
    def role(self) -> str: ...
    @property
    def organization_id(self) -> int | None: ...
    @property
    def username(self) -> str: ...
    @property
    def can_create_ca(self) -> bool: ...
    @property
    def can_create_cert(self) -> bool: ...
    @property
    def can_revoke_cert(self) -> bool: ...
    @property
    def can_export_private_key(self) -> bool: ...
    @property
    def can_delete_ca(self) -> bool: ...


if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    # Who may call a route that is open without a login: an actor, Django's anonymous user, or nobody.
    Anyone: TypeAlias = Actor | AnonymousUser | None


def acting(user: Actor | AnonymousUser) -> Actor:
    """`request.user` where a permission or the admin's login let in only an actor (a user or a
    service account). Should an anonymous user get there, it is refused as the policy would."""
    from django.contrib.auth.models import AnonymousUser  # not at the top: it needs the apps loaded

    if isinstance(user, AnonymousUser):
        raise PolicyDenied("Not enough permissions")
    return user
