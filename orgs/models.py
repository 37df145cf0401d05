"""Organizations: the tenants that keep users, CAs and certificates apart."""

from __future__ import annotations

from django.db import models


class Organization(models.Model):
    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True, null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(name=""), name="org_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name
