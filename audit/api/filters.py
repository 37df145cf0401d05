"""Filters of `GET /api/v1/audit-logs/` (SPEC §10)."""

from __future__ import annotations

import django_filters

from audit.models import AuditAction, AuditLog


class AuditLogFilter(django_filters.FilterSet):
    action = django_filters.ChoiceFilter(choices=AuditAction.choices)
    user_id = django_filters.NumberFilter()
    resource_type = django_filters.CharFilter()
    resource_id = django_filters.NumberFilter()
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = AuditLog
        fields = ["action", "user_id", "resource_type", "resource_id", "since", "until"]
