"""Service accounts: machine identities with API tokens and issuance policies (SPEC §13)."""

from __future__ import annotations

from django.apps import AppConfig


class ServiceAccountsConfig(AppConfig):
    name = "serviceaccounts"
    verbose_name = "Service accounts"
    default_auto_field = "django.db.models.BigAutoField"
