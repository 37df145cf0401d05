"""Serializer plumbing shared by the APIs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from rest_framework import ISO_8601, relations, serializers
from rest_framework.fields import SkipField, is_simple_callable
from rest_framework.settings import api_settings


class FieldsOnceMixin:
    """A serializer whose fields are built once per class, and copied cheaply per instance.

    DRF builds every instance's fields afresh: a ModelSerializer introspects its model again (0.3 ms
    for a dozen fields) and any serializer deep-copies its declared fields, which constructs each
    field again with deep copies of its arguments. That cost more than the queries behind most
    routes. The fields depend only on the class, so the first set is kept as a template and each
    instance gets a shallow copy of every field (a list field's child copied the same way):
    binding a field to its serializer sets attributes on the copy only, and what the copies share
    (validators, choices, arguments) is never changed after construction. Nested serializers and
    relations are deep copied, as DRF does.

    Output is planned once per class too: DRF's `to_representation` binds a fresh set of fields
    for every object it writes (a page of 100 certificates: 100 sets of 23) and reads each value
    through a generic attribute walk. Here a plan lists, per readable field, how to read its value
    from a model instance and the field's own `to_representation` (bound to a context-free
    instance of the serializer, so no request data is kept); method fields call the method of the
    serializer at hand. A serializer with nested serializers, relations or dotted sources keeps
    DRF's way.

    Timestamps are ISO 8601 in UTC (SPEC), whatever time zone is active: the template's date-time
    fields are given UTC as their own zone, so DRF does not look up the current zone for every
    value it reads or writes (a quarter of a page of certificates' time), and the plan writes an
    aware value with one conversion.
    """

    def get_fields(self) -> dict[str, Any]:
        cls = type(self)
        template = cls.__dict__.get("_fields_template")
        if template is None:
            template = super().get_fields()  # type: ignore[misc]
            for field in template.values():
                if type(field) is serializers.DateTimeField and not hasattr(field, "timezone"):
                    field.timezone = UTC
            cls._fields_template = template  # type: ignore[attr-defined]
        return {name: _instance_copy(field) for name, field in template.items()}

    def to_representation(self, instance: Any) -> Any:
        cls = type(self)
        plan = cls.__dict__.get("_output_plan")
        if plan is None:
            plan = cls._output_plan = _output_plan(cls)  # type: ignore[attr-defined]
        if not plan:
            return super().to_representation(instance)  # type: ignore[misc]
        out = {}
        for name, read, represent, method in plan:
            if method is not None:
                out[name] = getattr(self, method)(instance)
                continue
            try:
                value = read(instance)
            except SkipField:
                continue
            out[name] = None if value is None else represent(value)
        return out


_Step = tuple[str, Callable[[Any], Any], Callable[[Any], Any], str | None]


def _output_plan(cls: type[serializers.Serializer]) -> list[_Step] | bool:
    """(name, read, represent, method name) per readable field, or False where DRF's way is kept."""
    try:
        template = cls()
    except TypeError:  # a serializer that needs arguments to exist
        return False
    if not isinstance(template, serializers.Serializer):
        return False
    steps: list[_Step] = []
    for field in template._readable_fields:
        if isinstance(field, serializers.SerializerMethodField):
            steps.append((field.field_name, field.get_attribute, field.to_representation, field.method_name))
            continue
        if (
            isinstance(field, serializers.BaseSerializer | relations.RelatedField | relations.ManyRelatedField)
            or len(field.source_attrs) != 1
        ):
            return False
        steps.append((field.field_name, _reader(field), _writer(field), None))
    return steps


def _writer(field: serializers.Field) -> Callable[[Any], Any]:
    """The field's `to_representation`; for a date-time field in UTC and ISO 8601, a shortcut that
    writes an aware datetime as DRF would (anything else still goes to DRF)."""
    represent = field.to_representation
    iso = str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
    if type(field) is not serializers.DateTimeField or getattr(field, "timezone", None) is not UTC or not iso:
        return represent

    def write(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is not None:
            try:
                return value.astimezone(UTC).isoformat()[:-6] + "Z"  # always "+00:00" before
            except OverflowError:
                pass  # DRF's error
        return represent(value)

    return write


def _reader(field: serializers.Field) -> Callable[[Any], Any]:
    """DRF's `Field.get_attribute` for a one-step source on an object: a simple callable is called,
    and a missing value takes DRF's path (default, None or skipped)."""
    attr = field.source_attrs[0]

    def read(instance: Any) -> Any:
        try:
            value = getattr(instance, attr)
        except (AttributeError, ObjectDoesNotExist):
            return field.get_attribute(instance)
        if callable(value) and is_simple_callable(value):
            return value()
        return value

    return read


def _instance_copy(field: serializers.Field) -> serializers.Field:
    if isinstance(field, serializers.BaseSerializer) or hasattr(field, "child_relation"):
        return copy.deepcopy(field)
    clone = object.__new__(type(field))
    clone.__dict__.update(field.__dict__)
    child = field.__dict__.get("child")
    if child is not None:  # ListField, DictField: the child, already bound, belongs to its own parent
        clone.child = _instance_copy(child)
        clone.child.parent = clone
    return clone
