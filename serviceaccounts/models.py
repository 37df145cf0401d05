"""Service accounts, their API tokens and their issuance policies (SPEC §13)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

NAME_MAX_LENGTH = 100  # "sa:" + name must fit the audit log's 150-character username


class ServiceAccount(models.Model):
    """A machine identity of one organization. It is also an actor for `accounts.policy`:
    a `user` of its organization holding its own capability flags, never a person."""

    name = models.CharField(max_length=NAME_MAX_LENGTH)
    description = models.TextField(blank=True, null=True)
    # Deleting an organization deletes its machine identities (and, by cascade, their tokens).
    organization = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="service_accounts")
    can_create_ca = models.BooleanField(default=False)
    can_create_cert = models.BooleanField(default=False)
    can_revoke_cert = models.BooleanField(default=False)
    can_export_private_key = models.BooleanField(default=False)
    can_delete_ca = models.BooleanField(default=False)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The actor interface the policy, DRF and audit_record read.
    is_service_account = True
    is_authenticated = True
    is_anonymous = False
    role = "user"

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "organization", name="service_account_name_unique_in_org"),
            models.CheckConstraint(condition=~models.Q(name=""), name="service_account_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def username(self) -> str:
        return f"sa:{self.name}"

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class ServiceAccountToken(models.Model):
    """One bearer token. Only a SHA-256 of its secret is kept; `public_id` finds the row."""

    service_account = models.ForeignKey(ServiceAccount, on_delete=models.CASCADE, related_name="tokens")
    public_id = models.CharField(max_length=32, unique=True)
    secret_hash = models.CharField(max_length=64)
    name = models.CharField(max_length=100, blank=True, null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"token {self.public_id} of service account {self.service_account_id}"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class IssuancePolicy(models.Model):
    """What a service account may have issued. No policy means it may issue nothing."""

    service_account = models.OneToOneField(ServiceAccount, on_delete=models.CASCADE, related_name="issuance_policy")
    cn_patterns = models.JSONField(default=list, blank=True)
    san_dns_patterns = models.JSONField(default=list, blank=True)
    san_ip_cidrs = models.JSONField(default=list, blank=True)
    san_email_domains = models.JSONField(default=list, blank=True)
    allowed_ca_ids = models.JSONField(default=list, blank=True)
    allowed_certificate_types = models.JSONField(default=list, blank=True)
    max_validity_days = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "issuance policies"

    def __str__(self) -> str:
        return f"issuance policy of service account {self.service_account_id}"
