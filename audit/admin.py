"""Audit entries in the admin: read-only for everyone."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.policy import Action, can
from audit.models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "username", "organization_id", "resource_type", "resource_id"]
    list_filter = ["action", "resource_type"]
    search_fields = ["username", "detail"]
    readonly_fields = [f.name for f in AuditLog._meta.fields]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, Action.AUDIT_VIEW) and can(request.user, Action.ADMIN_CONSOLE)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
