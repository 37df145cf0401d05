"""Service accounts in the admin: read-only for superusers (management goes through the API), but for
making ACME bindings."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts.actors import acting
from accounts.policy import is_superuser
from acmeserver import services as acme_services
from serviceaccounts.models import IssuancePolicy, ServiceAccount, ServiceAccountToken


class ReadOnlySuperuserAdmin(admin.ModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_superuser(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ServiceAccount)
class ServiceAccountAdmin(ReadOnlySuperuserAdmin):
    list_display = ["name", "organization", "disabled_at", "can_create_cert", "can_revoke_cert", "created_at"]
    list_filter = ["organization"]
    search_fields = ["name", "description"]
    list_select_related = ["organization"]
    actions = ["make_acme_binding"]

    def has_acme_binding_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request.user)

    @admin.action(description="Make an ACME binding (its key is shown once)", permissions=["acme_binding"])
    def make_acme_binding(self, request: HttpRequest, queryset: QuerySet[ServiceAccount]) -> HttpResponse:
        made = []
        for account in queryset:
            credential, key = acme_services.eab_create(actor=acting(request.user), account=account)
            made.append((account, credential.kid, key))
        context = {
            **self.admin_site.each_context(request),
            "title": "New ACME bindings",
            "opts": self.opts,
            "made": made,
        }
        return TemplateResponse(request, "admin/acmeserver/eab_created.html", context)  # never cached, as the admin's


@admin.register(ServiceAccountToken)
class ServiceAccountTokenAdmin(ReadOnlySuperuserAdmin):
    # Never the hash: it is useless to a reader and needless to show.
    fields = ["service_account", "public_id", "name", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_display = ["public_id", "service_account", "name", "expires_at", "last_used_at", "revoked_at"]
    search_fields = ["public_id", "name", "service_account__name"]
    list_select_related = ["service_account"]


@admin.register(IssuancePolicy)
class IssuancePolicyAdmin(ReadOnlySuperuserAdmin):
    list_display = ["service_account", "max_validity_days", "updated_at"]
    list_select_related = ["service_account"]
