"""Filters of `GET /api/v1/certificates/` (SPEC §7)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet

from certificates.models import Certificate, CertificateStatus
from certificates.x509 import serial_from_hex

MAX_BIGINT = 2**63 - 1  # a larger id overflows SQLite's integers: a 400, not a 500


class IntegerFilter(django_filters.NumberFilter):
    # django-filter takes any number field here; its stubs allow only the default DecimalField.
    field_class = forms.IntegerField  # type: ignore[assignment]


class SerialNumberField(forms.CharField):
    """A serial typed as hex, with or without colons, as the lowercase hex the table stores."""

    def to_python(self, value: Any) -> str | None:
        text = super().to_python(value)
        if text is None or text in self.empty_values:
            return text
        serial = serial_from_hex(text)
        if serial is None:
            raise forms.ValidationError("serial_number must be hexadecimal.", code="invalid")
        return format(serial, "x")


class SerialNumberFilter(django_filters.CharFilter):
    field_class = SerialNumberField


class CertificateFilter(django_filters.FilterSet):
    ca_id = IntegerFilter(field_name="issuer_id", min_value=1, max_value=MAX_BIGINT)
    status = django_filters.ChoiceFilter(choices=CertificateStatus.choices, method="filter_status")
    common_name = django_filters.CharFilter(lookup_expr="iexact", max_length=255)
    serial_number = SerialNumberFilter(max_length=64)
    expiring_within_days = IntegerFilter(method="filter_expiring", min_value=0, max_value=36500)

    class Meta:
        model = Certificate
        fields = ["ca_id", "status", "common_name", "serial_number", "expiring_within_days"]

    def filter_status(self, queryset: QuerySet[Certificate], name: str, value: str) -> QuerySet[Certificate]:
        return queryset.with_status(value)  # type: ignore[attr-defined]

    def filter_expiring(self, queryset: QuerySet[Certificate], name: str, value: int) -> QuerySet[Certificate]:
        return queryset.expiring_within(value)  # type: ignore[attr-defined]
