"""ACME (RFC 8555) for every CA, bound to service accounts (SPEC §15). Named acmeserver: `acme`
is the ACME message library (certbot's), which this app uses."""

from __future__ import annotations

from django.apps import AppConfig


class AcmeConfig(AppConfig):
    name = "acmeserver"
    verbose_name = "ACME"
    default_auto_field = "django.db.models.BigAutoField"
