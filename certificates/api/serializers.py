"""Shapes of the CA, certificate and export APIs (form only; rules live in services)."""

from __future__ import annotations

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from certificates.models import Certificate, CertificateAuthority, CertificateStatus, CertificateType, KeyAlgorithm
from certificates.x509.urls import MAX_LENGTH as MAX_BASE_URL
from certificates.x509.urls import InvalidURL, normalize_crl_base_url

MAX_PEM = 64 * 1024
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


class _FastSurrogateCheck(ProhibitSurrogateCharactersValidator):
    """DRF's check, same message, with a regex: DRF walks a 64 KiB PEM one character at a time."""

    def __call__(self, value: object) -> None:
        found = _SURROGATE_RE.search(str(value))
        if found:
            raise ValidationError(self.message.format(code_point=ord(found.group())), code=self.code)


class PemField(serializers.CharField):
    """A PEM text field (CSRs): up to MAX_PEM characters, whitespace kept."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_length=MAX_PEM, trim_whitespace=False, **kwargs)  # type: ignore[arg-type]
        self.validators = [
            _FastSurrogateCheck() if isinstance(v, ProhibitSurrogateCharactersValidator) else v for v in self.validators
        ]


class CASerializer(serializers.ModelSerializer):
    parent_ca_id = serializers.IntegerField(source="parent_id", allow_null=True, read_only=True)
    organization_id = serializers.IntegerField(allow_null=True, read_only=True)
    created_by_user_id = serializers.IntegerField(allow_null=True, read_only=True)
    is_root = serializers.BooleanField(read_only=True)
    slug = serializers.CharField(read_only=True)

    class Meta:
        model = CertificateAuthority
        fields = [
            "id", "name", "description", "subject_dn", "key_algorithm", "key_size", "valid_days", "parent_ca_id",
            "path_length", "allow_leaf_certs", "crl_base_url", "certificate", "serial_number", "not_before",
            "not_after", "slug", "is_root", "organization_id", "created_by_user_id", "revoked_at", "revocation_reason",
            "acme_enabled", "acme_eab_required", "acme_max_validity_days", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class CAWithKeySerializer(CASerializer):
    private_key = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta(CASerializer.Meta):
        fields = [*CASerializer.Meta.fields, "private_key", "warnings"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_private_key(self, obj: CertificateAuthority) -> str | None:
        return self.context.get("private_key")

    def get_warnings(self, obj: CertificateAuthority) -> list[str]:
        return self.context.get("warnings", [])


class CAUpdateSerializer(serializers.Serializer):
    """PATCH /cas/{id}: any of these; another field is a 400 naming it."""

    description = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=10000)
    allow_leaf_certs = serializers.BooleanField(required=False)
    acme_enabled = serializers.BooleanField(required=False)
    acme_eab_required = serializers.BooleanField(required=False)
    acme_max_validity_days = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=36500)

    def validate(self, attrs: dict) -> dict:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise ValidationError({name: ["This field cannot be changed."] for name in unknown})
        return attrs


class CACreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    subject_dn = serializers.CharField(max_length=2048)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=10000)
    key_algorithm = serializers.ChoiceField(choices=KeyAlgorithm.choices, required=False, allow_null=True)
    key_size = serializers.IntegerField(required=False, allow_null=True)
    valid_days = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=36500)
    parent_ca_id = serializers.IntegerField(required=False, allow_null=True)
    path_length = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=32)
    allow_leaf_certs = serializers.BooleanField(required=False, allow_null=True, default=None)
    crl_base_url = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=MAX_BASE_URL,
        help_text="An http(s) URL; an internationalized host is stored in its A-label (xn--) form.",
    )

    def validate_crl_base_url(self, value: str | None) -> str | None:
        try:
            return normalize_crl_base_url(value)
        except InvalidURL as exc:
            raise ValidationError(exc.message) from None


class CertificateSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    issuer_id = serializers.IntegerField(read_only=True)
    organization_id = serializers.IntegerField(allow_null=True, read_only=True)
    created_by_user_id = serializers.IntegerField(allow_null=True, read_only=True)
    renewed_from_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = Certificate
        fields = [
            "id", "common_name", "subject_dn", "certificate_type", "key_algorithm", "key_size", "valid_days",
            "status", "certificate", "serial_number", "not_before", "not_after", "revoked_at", "revocation_reason",
            "san_dns_names", "san_ip_addresses", "san_email_addresses", "issuer_id", "organization_id",
            "created_by_user_id", "renewed_from_id", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=CertificateStatus.values))
    def get_status(self, obj: Certificate) -> str:
        now = self.context.get("now")
        return obj.status_at(now) if now else obj.status


class CertificateWithKeySerializer(CertificateSerializer):
    private_key = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta(CertificateSerializer.Meta):
        fields = [*CertificateSerializer.Meta.fields, "private_key", "warnings"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_private_key(self, obj: Certificate) -> str | None:
        return self.context.get("private_key")

    def get_warnings(self, obj: Certificate) -> list[str]:
        return self.context.get("warnings", [])


class _SanFields(serializers.Serializer):
    san_dns_names = serializers.ListField(
        child=serializers.CharField(max_length=253), required=False, allow_null=True, max_length=1000
    )
    san_ip_addresses = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, allow_null=True, max_length=1000
    )
    san_email_addresses = serializers.ListField(
        child=serializers.CharField(max_length=320), required=False, allow_null=True, max_length=1000
    )


class CertificateCreateSerializer(_SanFields):
    common_name = serializers.CharField(max_length=255)
    subject_dn = serializers.CharField(max_length=2048)
    certificate_type = serializers.ChoiceField(choices=CertificateType.choices)
    key_algorithm = serializers.ChoiceField(choices=KeyAlgorithm.choices, required=False, allow_null=True)
    key_size = serializers.IntegerField(required=False, allow_null=True)
    valid_days = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=36500)
    include_private_key = serializers.BooleanField(default=True)


class SignCSRSerializer(_SanFields):
    csr = PemField()
    ca_id = serializers.IntegerField(required=False, allow_null=True)
    ca_name = serializers.CharField(required=False, allow_null=True, max_length=255)
    certificate_type = serializers.ChoiceField(choices=CertificateType.choices, default=CertificateType.SERVER)
    valid_days = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=36500)
    common_name = serializers.CharField(required=False, allow_null=True, max_length=255)
    subject_dn = serializers.CharField(required=False, allow_null=True, max_length=2048)

    def validate(self, attrs: dict) -> dict:
        if (attrs.get("ca_id") is None) == (not attrs.get("ca_name")):
            raise serializers.ValidationError({"ca_id": ["Give exactly one of ca_id or ca_name."]})
        return attrs


class RevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)


class RenewSerializer(serializers.Serializer):
    csr = PemField(required=False, allow_null=True)


class Pkcs12Serializer(serializers.Serializer):
    """The PKCS#12 export's password, from the JSON body (POST) or the query string (GET)."""

    password = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        trim_whitespace=False,  # a password's spaces are part of it
        max_length=1024,
        help_text="Password protecting the PKCS#12 file; empty or absent for an unencrypted file.",
    )
