"""Append-only audit entries: written with the action they record, never edited or deleted."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models


class AuditAction(models.TextChoices):
    CA_CREATE = "ca_create"
    CA_DELETE = "ca_delete"
    CA_REVOKE = "ca_revoke"
    CA_UPDATE = "ca_update"
    CA_EXPORT_PRIVATE_KEY = "ca_export_private_key"
    CERT_CREATE = "cert_create"
    CERT_SIGN_CSR = "cert_sign_csr"
    CERT_RENEW = "cert_renew"
    CERT_REVOKE = "cert_revoke"
    CERT_EXPORT_PRIVATE_KEY = "cert_export_private_key"
    LOGIN_SUCCESS = "login_success"
    LOGIN_FAILURE = "login_failure"
    USER_CREATE = "user_create"
    USER_UPDATE = "user_update"
    USER_DELETE = "user_delete"
    ORG_CREATE = "org_create"
    ORG_UPDATE = "org_update"
    ORG_DELETE = "org_delete"
    ORG_ADD_USER = "org_add_user"
    ORG_REMOVE_USER = "org_remove_user"
    SERVICE_ACCOUNT_CREATE = "service_account_create"
    SERVICE_ACCOUNT_UPDATE = "service_account_update"
    SERVICE_ACCOUNT_DELETE = "service_account_delete"
    SERVICE_ACCOUNT_TOKEN_CREATE = "service_account_token_create"
    SERVICE_ACCOUNT_TOKEN_REVOKE = "service_account_token_revoke"
    ACME_EAB_CREATE = "acme_eab_create"
    ACME_EAB_REVOKE = "acme_eab_revoke"
    ACME_ACCOUNT_CREATE = "acme_account_create"
    ACME_ACCOUNT_DEACTIVATE = "acme_account_deactivate"
    CERT_POLICY_DENIED = "cert_policy_denied"


class AppendOnlyError(Exception):
    """Raised by every path that would edit or delete an audit entry."""


class AuditLogQuerySet(models.QuerySet["AuditLog"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Audit entries cannot be edited.")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("Audit entries cannot be deleted.")

    def _raw_delete(self, using: str | None) -> NoReturn:  # used by cascades and the deletion collector
        raise AppendOnlyError("Audit entries cannot be deleted.")


class AuditLog(models.Model):
    # Plain ids, not foreign keys: an entry outlives the user, organization or object it names.
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices, db_index=True)
    user_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    username = models.CharField(max_length=150, blank=True, default="")
    organization_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    resource_type = models.CharField(max_length=40, blank=True, default="")
    resource_id = models.BigIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True, default="")

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["resource_type", "resource_id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} by {self.username or '-'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None or not self._state.adding:
            raise AppendOnlyError("Audit entries cannot be edited.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Audit entries cannot be deleted.")
