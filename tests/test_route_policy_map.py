"""Every routed viewset action is mapped to a policy action (an unmapped one would be denied)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.viewsets import ViewSetMixin

from accounts.policy import RULES, Action
from pkiserver.api.permissions import PolicyPermission
from pkiserver.urls import router


def router_actions() -> list[tuple[str, type, str]]:
    """(prefix, viewset, DRF action) for every action the router exposes, extra actions included."""
    found = []
    for prefix, viewset, _basename in router.registry:
        names = set()
        for route in router.get_routes(viewset):
            names.update(router.get_method_map(viewset, route.mapping).values())
        names.update(extra.__name__ for extra in viewset.get_extra_actions())
        found.extend((prefix, viewset, name) for name in sorted(names))
    return found


def resolver_viewsets(patterns: list[Any] | None = None) -> list[tuple[type, dict[str, str]]]:
    """(viewset class, {method: action}) for every viewset URL the project's resolver knows."""
    found = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            found.extend(resolver_viewsets(pattern.url_patterns))
        elif isinstance(pattern, URLPattern):
            cls = getattr(pattern.callback, "cls", None)
            actions = getattr(pattern.callback, "actions", None)
            if cls is not None and actions and issubclass(cls, ViewSetMixin):
                found.append((cls, actions))
    return found


ROUTER_ACTIONS = router_actions()


def test_the_walk_finds_the_known_routes():
    seen = {(prefix, action) for prefix, _, action in ROUTER_ACTIONS}

    assert {
        ("users", "list"),
        ("users", "create"),
        ("users", "me"),
        ("users", "partial_update"),
        ("users", "destroy"),
        ("organizations", "update"),
        ("organizations", "members"),
        ("organizations", "member"),
        ("audit-logs", "list"),
    } <= seen
    assert ("audit-logs", "destroy") not in seen


@pytest.mark.parametrize(
    ("prefix", "viewset", "action"), ROUTER_ACTIONS, ids=[f"{p}:{a}" for p, _, a in ROUTER_ACTIONS]
)
def test_every_routed_action_is_in_the_policy_map(prefix, viewset, action):
    policy = getattr(viewset, "policy", None)

    assert policy, f"{viewset.__name__} declares no policy map"
    assert action in policy, f"{viewset.__name__}.{action} ({prefix}) is not mapped: it would always be denied"
    assert isinstance(policy[action], Action)
    assert policy[action] in RULES


@pytest.mark.parametrize("viewset", [v for _, v, _ in router.registry], ids=[p for p, _, _ in router.registry])
def test_every_object_action_is_mapped(viewset):
    unmapped = [name for name in getattr(viewset, "object_actions", ()) if name not in viewset.policy]

    assert not unmapped, f"{viewset.__name__}.object_actions lists unmapped actions {unmapped}"


@pytest.mark.parametrize("viewset", [v for _, v, _ in router.registry], ids=[p for p, _, _ in router.registry])
def test_every_viewset_uses_the_policy_permission(viewset):
    assert PolicyPermission in viewset.permission_classes


def test_every_viewset_url_of_the_resolver_is_mapped():
    routed = resolver_viewsets()
    unmapped = [
        f"{cls.__name__}.{action}"
        for cls, actions in routed
        if PolicyPermission in cls.permission_classes
        for action in actions.values()
        if action not in cls.policy
    ]

    assert {cls for cls, _ in routed} >= {viewset for _, viewset, _ in router.registry}
    assert not unmapped


# An unmapped action is denied, whoever asks: the fail-closed default the map relies on.


@pytest.mark.parametrize("role", ["superuser", "admin", "user"])
def test_an_unmapped_action_is_denied(role):
    actor = SimpleNamespace(
        is_authenticated=True, is_active=True, is_service_account=False, role=role, organization_id=1, pk=1
    )
    request = SimpleNamespace(user=actor, method="GET")
    view = SimpleNamespace(
        action="unmapped", action_map={"get": "unmapped"}, policy={"list": Action.USER_LIST}, object_actions=()
    )

    assert not PolicyPermission().has_permission(request, view)
    assert not PolicyPermission().has_object_permission(request, view, SimpleNamespace(organization_id=1))
