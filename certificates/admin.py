"""CAs and certificates in the admin console: read views, never a private key."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from certificates.models import Certificate, CertificateAuthority


class ReadOnlyPKIAdmin(admin.ModelAdmin):
    """Writes go through the services (API); here objects are looked at, not edited."""

    exclude = ["private_key"]
    # crl_base_url: Django 5 warns (an error under our test settings) unless the scheme is chosen.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CertificateAuthority)
class CertificateAuthorityAdmin(ReadOnlyPKIAdmin):
    list_display = ["name", "parent", "organization", "key_algorithm", "key_size", "not_after", "allow_leaf_certs"]
    list_filter = ["organization", "key_algorithm"]
    search_fields = ["name", "subject_dn", "serial_number"]
    list_select_related = ["parent", "organization"]


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyPKIAdmin):
    list_display = ["common_name", "certificate_type", "issuer", "serial_number", "not_after", "revoked_at"]
    list_filter = ["certificate_type", "issuer"]
    search_fields = ["common_name", "serial_number", "subject_dn"]
    list_select_related = ["issuer"]
