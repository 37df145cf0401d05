"""FieldsOnceMixin: fields built once per serializer class, each instance with its own copies."""

from __future__ import annotations

from rest_framework import serializers

from pkiserver.api.serializers import FieldsOnceMixin


class Inner(serializers.Serializer):
    value = serializers.IntegerField()


class Form(FieldsOnceMixin, serializers.Serializer):
    name = serializers.CharField(max_length=5)
    tags = serializers.ListField(child=serializers.CharField(max_length=3), required=False)
    inner = Inner(required=False)


def test_each_instance_gets_its_own_bound_fields_and_the_template_stays_unbound():
    first, second = Form(data={"name": "ab"}), Form(data={"name": "abcdefg"})

    assert first.fields["name"] is not second.fields["name"]
    assert first.fields["name"].parent is first and second.fields["name"].parent is second
    assert first.fields["tags"].child.parent is first.fields["tags"]
    assert first.fields["tags"].child is not second.fields["tags"].child
    assert first.fields["inner"] is not second.fields["inner"]
    template = Form._fields_template
    assert all(getattr(field, "parent", None) is None for field in template.values())
    assert template["name"] is not first.fields["name"]


def test_copies_validate_independently():
    good = Form(data={"name": "ab", "tags": ["x"], "inner": {"value": 3}})
    bad = Form(data={"name": "abcdefg", "tags": ["toolong"], "inner": {"value": "x"}})

    assert good.is_valid(), good.errors
    assert not bad.is_valid()
    assert set(bad.errors) == {"name", "tags", "inner"}
    assert good.validated_data == {"name": "ab", "tags": ["x"], "inner": {"value": 3}}
