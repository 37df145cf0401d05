"""Shapes of the service-account API (SPEC §13; the fields FastPKI's CLI sends and reads)."""

from __future__ import annotations

from rest_framework import serializers

from acmeserver.models import EabCredential
from serviceaccounts.issuance import MAX_ENTRIES
from serviceaccounts.models import NAME_MAX_LENGTH, IssuancePolicy, ServiceAccount, ServiceAccountToken


class ServiceAccountSerializer(serializers.ModelSerializer):
    organization_id = serializers.IntegerField(read_only=True)
    created_by_user_id = serializers.IntegerField(source="created_by_id", allow_null=True, read_only=True)

    class Meta:
        model = ServiceAccount
        fields = [
            "id", "name", "description", "organization_id", "created_by_user_id", "disabled_at",
            "can_create_ca", "can_create_cert", "can_revoke_cert", "can_export_private_key", "can_delete_ca",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class ServiceAccountCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX_LENGTH)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=10000)
    organization_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    can_create_ca = serializers.BooleanField(default=False)
    can_create_cert = serializers.BooleanField(default=False)
    can_revoke_cert = serializers.BooleanField(default=False)
    can_export_private_key = serializers.BooleanField(default=False)
    can_delete_ca = serializers.BooleanField(default=False)


class ServiceAccountUpdateSerializer(serializers.Serializer):
    """PATCH: only the fields given change; `disabled` true disables, false enables."""

    name = serializers.CharField(required=False, max_length=NAME_MAX_LENGTH)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=10000)
    disabled = serializers.BooleanField(required=False, allow_null=True)
    can_create_ca = serializers.BooleanField(required=False)
    can_create_cert = serializers.BooleanField(required=False)
    can_revoke_cert = serializers.BooleanField(required=False)
    can_export_private_key = serializers.BooleanField(required=False)
    can_delete_ca = serializers.BooleanField(required=False)


class TokenSerializer(serializers.ModelSerializer):
    """Token metadata: never the token nor its hash."""

    revoked = serializers.BooleanField(read_only=True)

    class Meta:
        model = ServiceAccountToken
        fields = ["id", "public_id", "name", "created_at", "last_used_at", "expires_at", "revoked"]
        read_only_fields = fields


class TokenCreatedSerializer(TokenSerializer):
    """The answer to a mint: metadata plus the plaintext `token`, shown this once."""

    token = serializers.SerializerMethodField()

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]
        read_only_fields = fields

    def get_token(self, obj: ServiceAccountToken) -> str:
        return self.context["token"]


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


def _list_of(child: serializers.Field) -> serializers.ListField:
    return serializers.ListField(child=child, required=False, allow_null=True, max_length=MAX_ENTRIES)


def _text() -> serializers.CharField:
    # Blank and padded entries reach the service, whose message names the bad pattern.
    return serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=253)


class PolicySerializer(serializers.ModelSerializer):
    service_account_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = IssuancePolicy
        fields = [
            "id", "service_account_id", "cn_patterns", "san_dns_patterns", "san_ip_cidrs", "san_email_domains",
            "allowed_ca_ids", "allowed_certificate_types", "max_validity_days", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class PolicyWriteSerializer(serializers.Serializer):
    """PUT: the whole policy. Lists left out are empty (allow nothing of that kind); the
    service checks every pattern, CIDR, type and CA id."""

    cn_patterns = _list_of(_text())
    san_dns_patterns = _list_of(_text())
    san_ip_cidrs = _list_of(_text())
    san_email_domains = _list_of(_text())
    allowed_ca_ids = _list_of(serializers.IntegerField(min_value=1, max_value=2**63 - 1))  # a bigint key
    allowed_certificate_types = _list_of(_text())
    max_validity_days = serializers.IntegerField(min_value=1, max_value=36500)


class EabSerializer(serializers.ModelSerializer):
    """An ACME external account binding: never its HMAC key."""

    class Meta:
        model = EabCredential
        fields = ["kid", "created_at", "used_at", "account_url", "revoked_at"]
        read_only_fields = fields


class EabCreatedSerializer(EabSerializer):
    """The answer to POST: the binding and its base64url `hmac_key`, shown this once."""

    hmac_key = serializers.SerializerMethodField()

    class Meta(EabSerializer.Meta):
        fields = [*EabSerializer.Meta.fields, "hmac_key"]
        read_only_fields = fields

    def get_hmac_key(self, obj: EabCredential) -> str:
        return self.context["hmac_key"]
