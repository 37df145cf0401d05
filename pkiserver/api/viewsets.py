"""The base viewset: policy map, org-scoped lists, unscoped object lookups (403, not 404)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from rest_framework import viewsets

from accounts.policy import Action, visible_q


class PolicyViewSet(viewsets.GenericViewSet):
    """Concrete viewsets declare `policy`, `object_actions` and `scope_kind`.

    Lists are filtered to what the caller may see; object routes look the object up unscoped
    so that another organization's object answers 403 and a missing id 404 (SPEC §5).
    """

    policy: ClassVar[dict[str, Action]] = {}
    object_actions: ClassVar[tuple[str, ...]] = ("retrieve", "update", "partial_update", "destroy")
    scope_kind: ClassVar[str] = ""
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        if self.action in self.object_actions or not self.scope_kind:
            return queryset
        return queryset.filter(visible_q(self.request.user, self.scope_kind))
