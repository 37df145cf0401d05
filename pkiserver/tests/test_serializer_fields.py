"""FieldsOnceMixin: fields built once per serializer class, each instance with its own copies;
output planned once per class, written as DRF writes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone
from rest_framework import serializers

from accounts.api.serializers import UserSerializer
from audit.api.serializers import AuditLogSerializer
from audit.models import AuditAction
from audit.services import audit_record
from certificates import services
from certificates.api.serializers import (
    CASerializer,
    CAWithKeySerializer,
    CertificateSerializer,
    CertificateWithKeySerializer,
)
from certificates.tests.conftest import create_ca, issue_certificate
from orgs.api.serializers import OrganizationSerializer
from pkiserver.api.serializers import FieldsOnceMixin
from serviceaccounts.api.serializers import (
    PolicySerializer,
    ServiceAccountSerializer,
    TokenCreatedSerializer,
    TokenSerializer,
)
from serviceaccounts.models import IssuancePolicy, ServiceAccount, ServiceAccountToken


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


# --- output planned once per class --------------------------------------------------------


def _drf_output(serializer: serializers.Serializer, instance: object) -> object:
    """What DRF itself writes for `instance` (the mixin's plan skipped)."""
    return super(FieldsOnceMixin, serializer).to_representation(instance)


@pytest.fixture
def objects(superuser, admin_a, org_a):
    """One object of every kind the API writes out, with empty and filled optional fields."""
    ca = create_ca(admin_a, "Plan Root")
    valid = issue_certificate(admin_a, ca, "plan.example.com", san_ip_addresses=("192.0.2.1",))
    revoked = issue_certificate(admin_a, ca, "gone.example.com")
    revoked = services.certificate_revoke(actor=admin_a, cert=revoked, reason="keyCompromise")
    entry = audit_record(action=AuditAction.ORG_UPDATE, actor=admin_a, organization_id=org_a.pk, detail="d")
    account = ServiceAccount.objects.create(name="plan-bot", organization=org_a, created_by=admin_a)
    token = ServiceAccountToken.objects.create(service_account=account, public_id="p" * 12, secret_hash="0" * 64)
    named = ServiceAccountToken.objects.create(
        service_account=account, public_id="q" * 12, secret_hash="1" * 64, name="ci", revoked_at=timezone.now()
    )
    policy = IssuancePolicy.objects.create(service_account=account, cn_patterns=["*.example.com"], max_validity_days=9)
    return {
        UserSerializer: [superuser, admin_a],
        OrganizationSerializer: [org_a],
        CASerializer: [ca],
        CAWithKeySerializer: [ca],
        CertificateSerializer: [valid, revoked],
        CertificateWithKeySerializer: [valid, revoked],
        AuditLogSerializer: [entry],
        ServiceAccountSerializer: [account],
        TokenSerializer: [token, named],
        TokenCreatedSerializer: [named],
        PolicySerializer: [policy],
    }


def test_planned_output_is_what_drf_writes(objects):
    context = {
        "private_key": "-----BEGIN PRIVATE KEY-----",
        "warnings": ["capped"],
        "now": timezone.now(),
        "token": "pkisa_x",
    }
    for serializer_class, instances in objects.items():
        for instance in instances:
            serializer = serializer_class(instance, context=context)
            planned = serializer.data

            assert vars(serializer_class)["_output_plan"], f"{serializer_class.__name__} fell back to DRF's way"
            assert dict(planned) == _drf_output(serializer_class(instance, context=context), instance)
            assert list(planned) == list(serializer_class(context=context).fields)  # same keys, same order


def test_a_list_is_written_without_binding_fields_per_object(objects):
    certificates = objects[CertificateSerializer]
    many = CertificateSerializer(certificates, many=True)

    data = many.data

    assert [row["id"] for row in data] == [c.pk for c in certificates]
    assert "fields" not in vars(many.child)  # DRF would have bound the child's fields for each object
    assert [row["status"] for row in data] == ["valid", "revoked"]


def test_the_plan_keeps_no_request_context(objects):
    ca = objects[CAWithKeySerializer][0]
    first = CAWithKeySerializer(ca, context={"private_key": "FIRST-SECRET"}).data
    second = CAWithKeySerializer(ca, context={"private_key": "SECOND-SECRET"}).data

    assert (first["private_key"], second["private_key"]) == ("FIRST-SECRET", "SECOND-SECRET")
    for _name, _read, represent, _method in vars(CAWithKeySerializer)["_output_plan"]:
        field = getattr(represent, "__self__", None)
        if field is not None and getattr(field, "parent", None) is not None:
            assert field.parent._context == {}


def test_nested_serializers_keep_drfs_way():
    class WithNested(FieldsOnceMixin, serializers.Serializer):
        name = serializers.CharField()
        inner = Inner()

    data = WithNested({"name": "x", "inner": {"value": 4}}).data

    assert vars(WithNested)["_output_plan"] is False
    assert data == {"name": "x", "inner": {"value": 4}}


def test_a_mapping_is_read_as_drf_reads_it():
    class Pair(FieldsOnceMixin, serializers.Serializer):
        access_token = serializers.CharField()
        refresh_token = serializers.CharField(required=False)
        expires_in = serializers.IntegerField(default=900)

    assert Pair({"access_token": "a"}).data == {"access_token": "a", "expires_in": 900}
    assert Pair({"access_token": "a", "refresh_token": "r", "expires_in": 5}).data == {
        "access_token": "a",
        "refresh_token": "r",
        "expires_in": 5,
    }
    assert vars(Pair)["_output_plan"]


# --- timestamps: ISO 8601 in UTC (SPEC), whatever zone is active ------------------------------


class Stamped(FieldsOnceMixin, serializers.Serializer):
    at = serializers.DateTimeField()


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 2, 8, 0, tzinfo=UTC),
        datetime(2026, 12, 2, 8, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 12, 2, 13, 30, tzinfo=dt_timezone(timedelta(hours=5, minutes=30))),
        datetime(1, 1, 1, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 2, 8, 0),  # naive: DRF's way (made aware in UTC)
    ],
    ids=["utc", "microseconds", "offset", "year-1", "naive"],
)
def test_a_timestamp_is_written_as_drf_writes_it_in_utc(value):
    reference = serializers.DateTimeField(default_timezone=UTC)

    assert Stamped({"at": value}).data == {"at": reference.to_representation(value)}
    assert Stamped({"at": value}).data["at"].endswith("Z")


def test_timestamps_stay_in_utc_when_another_zone_is_active(objects):
    cert = objects[CertificateSerializer][0]
    with timezone.override("Asia/Kolkata"):
        planned = CertificateSerializer(cert).data
        drf = _drf_output(CertificateSerializer(cert), cert)

    assert planned == drf
    for name in ("not_before", "not_after", "created_at", "updated_at"):
        assert planned[name].endswith("Z") and planned[name] == cert_time(getattr(cert, name)), name


def cert_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
