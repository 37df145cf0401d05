"""Shapes of the Users and Auth APIs (validation of form only; rules live in services)."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import CAPABILITY_FLAGS, Role, User

USER_FIELDS = [
    "id",
    "username",
    "email",
    "role",
    "is_active",
    "organization_id",
    *CAPABILITY_FLAGS,
    "created_at",
    "updated_at",
]


class UserSerializer(serializers.ModelSerializer):
    organization_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = User
        fields = USER_FIELDS
        read_only_fields = USER_FIELDS


class UserCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(
        r"^[\w.@+-]+\Z",
        max_length=150,
        error_messages={"invalid": "Enter a valid username: letters, digits and @/./+/-/_ only."},
    )
    email = serializers.EmailField(max_length=254)
    # No min_length here: Django's password validators (min 8 and more) say why, in the service.
    password = serializers.CharField(max_length=1024, write_only=True, trim_whitespace=False)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.USER)
    organization_id = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    can_create_ca = serializers.BooleanField(default=False)
    can_create_cert = serializers.BooleanField(default=False)
    can_revoke_cert = serializers.BooleanField(default=False)
    can_export_private_key = serializers.BooleanField(default=False)
    can_delete_ca = serializers.BooleanField(default=False)


class UserUpdateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254, required=False)
    password = serializers.CharField(max_length=1024, required=False, write_only=True, trim_whitespace=False)
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)
    organization_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    can_create_ca = serializers.BooleanField(required=False)
    can_create_cert = serializers.BooleanField(required=False)
    can_revoke_cert = serializers.BooleanField(required=False)
    can_export_private_key = serializers.BooleanField(required=False)
    can_delete_ca = serializers.BooleanField(required=False)

    def validate(self, attrs: dict) -> dict:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
        return attrs


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, write_only=True)


class RefreshSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096)


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField(default="bearer")
