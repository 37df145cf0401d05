"""Certificate reads in the domain's words."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone


class CertificateQuerySet(models.QuerySet):
    def revoked(self) -> CertificateQuerySet:
        return self.filter(revoked_at__isnull=False)

    def unrevoked(self) -> CertificateQuerySet:
        return self.filter(revoked_at__isnull=True)

    def expired(self) -> CertificateQuerySet:
        return self.unrevoked().filter(not_after__lte=timezone.now())

    def valid(self) -> CertificateQuerySet:
        return self.unrevoked().filter(not_after__gt=timezone.now())

    def with_status(self, status: str) -> CertificateQuerySet:
        return {"revoked": self.revoked, "expired": self.expired, "valid": self.valid}[status]()

    def expiring_within(self, days: int) -> CertificateQuerySet:
        now = timezone.now()
        return self.valid().filter(not_after__lte=now + timedelta(days=days))
