"""The one DRF permission class: it maps each view action to a policy action and asks the policy."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.policy import Action, can


class PolicyPermission(BasePermission):
    """Views declare `policy = {drf_action: Action}`; object actions list themselves in
    `object_actions`. An action missing from the map is denied (fail closed)."""

    message = "Not enough permissions"

    def _policy_action(self, view: Any) -> Action | None:
        policy: dict[str, Action] = getattr(view, "policy", {})
        return policy.get(getattr(view, "action", None) or "")

    def has_permission(self, request: Request, view: Any) -> bool:
        action = self._policy_action(view)
        if action is None:
            # A method the route does not offer at all has no handler: let DRF answer 405, not 403.
            method = (request.method or "").lower()
            offered = getattr(view, "action_map", {})
            return getattr(view, "action", None) is None and method not in offered and not hasattr(view, method)
        if view.action in getattr(view, "object_actions", ()):
            # The object decides; here we only need someone logged in.
            return bool(request.user and request.user.is_authenticated)
        return can(request.user, action)

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        action = self._policy_action(view)
        return action is not None and can(request.user, action, obj)


class HumanOnly(BasePermission):
    """Login-session routes (`/auth/logout`, `/auth/invalidate`): a service account has no
    session to end; its token is revoked through `/service-accounts/{id}/tokens/{token_id}`."""

    message = "A service account has no login session: revoke its token instead."

    def has_permission(self, request: Request, view: Any) -> bool:
        return not getattr(request.user, "is_service_account", False)
