"""Serializer plumbing shared by the APIs."""

from __future__ import annotations

import copy
from typing import Any

from rest_framework import serializers


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
    """

    def get_fields(self) -> dict[str, Any]:
        cls = type(self)
        template = cls.__dict__.get("_fields_template")
        if template is None:
            template = super().get_fields()  # type: ignore[misc]
            cls._fields_template = template  # type: ignore[attr-defined]
        return {name: _instance_copy(field) for name, field in template.items()}


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
