from __future__ import annotations

from rest_framework import serializers

from audit.models import AuditLog


class AuditLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditLog
        fields = [
            "id",
            "created_at",
            "action",
            "user_id",
            "username",
            "organization_id",
            "resource_type",
            "resource_id",
            "detail",
        ]
        read_only_fields = fields
