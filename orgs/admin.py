"""Organizations in the admin console."""

from __future__ import annotations

from django.contrib import admin

from orgs.models import Organization


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "created_at"]
    search_fields = ["name"]
    ordering = ["id"]
