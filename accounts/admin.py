"""Users in the admin console; the policy module decides who gets in."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.forms import AdminUserChangeForm, AdminUserCreationForm
from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = AdminUserChangeForm
    add_form = AdminUserCreationForm
    list_display = ["username", "email", "role", "organization", "is_active", "created_at"]
    list_filter = ["role", "is_active", "organization"]
    search_fields = ["username", "email"]
    ordering = ["id"]
    readonly_fields = ["created_at", "updated_at", "last_login"]
    fieldsets = [
        (None, {"fields": ["username", "email", "password"]}),
        ("Role and organization", {"fields": ["role", "is_active", "organization"]}),
        (
            "Capabilities",
            {"fields": ["can_create_ca", "can_create_cert", "can_revoke_cert", "can_export_private_key", "can_delete_ca"]},
        ),
        ("Dates", {"fields": ["created_at", "updated_at", "last_login"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["username", "email", "role", "password1", "password2"]})]
    filter_horizontal: list[str] = []
