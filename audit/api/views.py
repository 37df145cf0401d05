"""`GET /api/v1/audit-logs/`: newest first, scoped by the policy."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import mixins

from accounts.policy import Action
from audit.api.filters import AuditLogFilter
from audit.api.serializers import AuditLogSerializer
from audit.models import AuditLog
from pkiserver.api.viewsets import PolicyViewSet


class AuditLogViewSet(mixins.ListModelMixin, PolicyViewSet):
    queryset = AuditLog.objects.all()
    serializer_class = AuditLogSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = AuditLogFilter
    policy = {"list": Action.AUDIT_VIEW}
    object_actions = ()  # no object routes: entries are never read, edited or deleted one by one
    scope_kind = "audit"
