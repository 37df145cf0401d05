"""Filters of `GET /api/v1/audit-logs/` (SPEC §10)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from audit.models import AuditAction, AuditLog


class UTCDateTimeField(IsoDateTimeField):
    """An ISO-8601 instant, handed to the database in UTC. `9999-12-31T23:59-14:00` has no UTC form
    (400, not 500), and PostgreSQL refuses offsets past 15:59 that Python accepts (`+18:31`)."""

    def to_python(self, value: Any) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Date and time out of range.", code="overflow") from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class AuditLogFilter(django_filters.FilterSet):
    action = django_filters.ChoiceFilter(choices=AuditAction.choices)
    user_id = django_filters.NumberFilter()
    resource_type = django_filters.CharFilter()
    resource_id = django_filters.NumberFilter()
    since = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UTCDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = AuditLog
        fields = ["action", "user_id", "resource_type", "resource_id", "since", "until"]
