"""ACME records. No crypto here."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class EabCredential(models.Model):
    """An external account binding (RFC 8555 §7.3.4) of a service account: an ACME client that
    proves it holds the HMAC key registers an account acting as that service account. Used once."""

    kid = models.CharField(max_length=64, unique=True)
    service_account = models.ForeignKey(
        "serviceaccounts.ServiceAccount", on_delete=models.CASCADE, related_name="acme_eab_credentials"
    )
    hmac_key = models.TextField(editable=False)  # Fernet token (certificates.keystore): the MAC is checked with it
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)
    account_url = models.URLField(max_length=500, null=True, blank=True)  # the ACME account it bound
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "ACME external account binding"

    def __str__(self) -> str:
        return f"EAB {self.kid} of service account {self.service_account_id}"
