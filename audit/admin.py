"""Audit entries in the admin console: read-only for everyone, admins see their organization's."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from accounts.policy import Action
from audit.models import AuditLog
from pkiserver.admin import PolicyAdmin


class UserFilter(admin.SimpleListFilter):
    """The people (and service accounts) who appear in the entries this reader may see."""

    title = "user"
    parameter_name = "username"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = model_admin.get_queryset(request).exclude(username="").order_by("username")
        return [(name, name) for name in names.values_list("username", flat=True).distinct()[:200]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditLog]) -> QuerySet[AuditLog]:
        return queryset.filter(username=self.value()) if self.value() else queryset


class ResourceFilter(admin.SimpleListFilter):
    title = "resource"
    parameter_name = "resource_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        kinds = model_admin.get_queryset(request).exclude(resource_type="").order_by("resource_type")
        return [(kind, kind) for kind in kinds.values_list("resource_type", flat=True).distinct()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditLog]) -> QuerySet[AuditLog]:
        return queryset.filter(resource_type=self.value()) if self.value() else queryset


@admin.register(AuditLog)
class AuditLogAdmin(PolicyAdmin):
    scope = "audit"
    view_action = Action.AUDIT_VIEW  # add, change and delete stay None: refused to everyone

    list_display = ["created_at", "action", "username", "organization_id", "resource_type", "resource_id", "detail"]
    list_filter = ["action", UserFilter, ResourceFilter, "created_at"]
    date_hierarchy = "created_at"
    search_fields = ["username", "detail"]
    readonly_fields = [field.name for field in AuditLog._meta.fields]
    show_full_result_count = False  # one COUNT less per page on a table that only grows

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AuditLog], search_term: str
    ) -> tuple[QuerySet[AuditLog], bool]:
        """Text matches the username and detail; a number also matches a resource or user id."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term.isdigit() and len(term) < 19:
            results |= queryset.filter(Q(resource_id=int(term)) | Q(user_id=int(term)))
        return results, may_have_duplicates
