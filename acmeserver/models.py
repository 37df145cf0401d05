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


class AcmeAccount(models.Model):
    """An ACME account of one CA, known by its key. With a binding it acts as that service account."""

    class Status(models.TextChoices):
        VALID = "valid"
        DEACTIVATED = "deactivated"

    ca = models.ForeignKey("certificates.CertificateAuthority", on_delete=models.CASCADE, related_name="acme_accounts")
    thumbprint = models.CharField(max_length=64)  # RFC 7638, SHA-256, base64url
    jwk = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.VALID)
    contact = models.JSONField(default=list, blank=True)
    service_account = models.ForeignKey(
        "serviceaccounts.ServiceAccount", null=True, blank=True, on_delete=models.CASCADE, related_name="acme_accounts"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "ACME account"
        constraints = [models.UniqueConstraint(fields=["ca", "thumbprint"], name="acme_account_key_unique_per_ca")]

    def __str__(self) -> str:
        return f"ACME account {self.pk} of CA {self.ca_id}"

    @property
    def organization_id(self) -> int | None:  # what audit entries name
        return self.ca.organization_id
