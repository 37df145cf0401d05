"""Certificate reads in the domain's words."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from django.db.models.sql.compiler import _AsSqlType


class EpochSeconds(models.Func):
    """A datetime column as whole seconds since 1970 (what a CRL entry keeps of it): a large CRL's
    revocation times are read as integers, not parsed into datetimes row by row."""

    # A plain Field: the driver already returns an int, and an IntegerField here would make
    # Django call int() on every row in Python.
    output_field = models.Field()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> _AsSqlType:
        return self.as_sql(compiler, connection, template="FLOOR(EXTRACT(EPOCH FROM %(expressions)s))::bigint", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> _AsSqlType:
        # '%%%%s': once for this template, once for the driver's placeholders: strftime('%s', ...).
        # Only the stored text's whole seconds ('YYYY-MM-DD HH:MM:SS'): SQLite's date functions
        # keep milliseconds and round to them, so '…:42.9996' would count as second 43.
        return self.as_sql(
            compiler,
            connection,
            template="CAST(strftime('%%%%s', substr(%(expressions)s, 1, 19)) AS INTEGER)",
            **extra,
        )


class CertificateQuerySet(models.QuerySet):
    """Certificates, filtered in the domain's words."""

    def revoked(self) -> CertificateQuerySet:
        return self.filter(revoked_at__isnull=False)

    def unrevoked(self) -> CertificateQuerySet:
        return self.filter(revoked_at__isnull=True)

    def expired(self) -> CertificateQuerySet:
        return self.unrevoked().filter(not_after__lte=timezone.now())

    def valid(self) -> CertificateQuerySet:
        return self.unrevoked().filter(not_after__gt=timezone.now())

    def issued_by(self, ca_id: int) -> CertificateQuerySet:
        return self.filter(issuer_id=ca_id)

    def with_status(self, status: str) -> CertificateQuerySet:
        return {"revoked": self.revoked, "expired": self.expired, "valid": self.valid}[status]()

    def expiring_within(self, days: int) -> CertificateQuerySet:
        now = timezone.now()
        return self.valid().filter(not_after__lte=now + timedelta(days=days))

    def crl_rows(self, issuer_id: int) -> Iterator[tuple[str, int, int | None]]:
        """(serial hex, revocation time in epoch seconds, reason code) of every certificate the CA
        revoked, streamed in chunks as plain tuples: a 100,000-entry CRL never holds model instances."""
        revoked = self.filter(issuer_id=issuer_id, revoked_at__isnull=False).order_by()  # any order will do:
        # the model's `ORDER BY id` would walk the whole table by primary key
        rows = revoked.values_list("serial_number", EpochSeconds("revoked_at"), "revocation_reason_code")
        return rows.iterator(chunk_size=5_000)
