"""ACME in the admin console, for superusers as service accounts are: accounts and bindings to
read, bindings to make (the key shown once) and revoke, through the same services as the API."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.actors import acting
from accounts.policy import is_superuser
from acmeserver import services
from acmeserver.models import AcmeAccount, EabCredential
from serviceaccounts.admin import ReadOnlySuperuserAdmin


@admin.register(AcmeAccount)
class AcmeAccountAdmin(ReadOnlySuperuserAdmin):
    list_display = ["id", "ca", "status", "service_account", "created_at"]
    list_filter = ["status"]
    list_select_related = ["ca", "service_account"]
    fields = ["ca", "status", "service_account", "contact", "thumbprint", "created_at"]


@admin.register(EabCredential)
class EabCredentialAdmin(ReadOnlySuperuserAdmin):
    # Never the HMAC key, encrypted or not.
    fields = ["kid", "service_account", "created_by", "created_at", "used_at", "account_url", "revoked_at"]
    list_display = ["kid", "service_account", "created_at", "used_at", "revoked_at"]
    list_select_related = ["service_account"]
    search_fields = ["kid", "service_account__name"]
    actions = ["revoke"]

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request.user)

    @admin.action(description="Revoke the selected bindings", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[EabCredential]) -> None:
        for credential in queryset.select_related("service_account"):
            services.eab_revoke(actor=acting(request.user), account=credential.service_account, kid=credential.kid)
        self.message_user(request, f"Revoked {queryset.count()} binding(s).", messages.SUCCESS)
