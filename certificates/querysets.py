"""Certificate reads in the domain's words."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.db import models
from django.utils import timezone


class EpochSeconds(models.Func):
    """A datetime column as whole seconds since 1970 (what a CRL entry keeps of it).

    Reading 100,000 revocation times as integers skips the per-row datetime parsing of the
    database driver (psycopg's timestamptz loader under Django's is pure Python, 5 µs a row).
    """

    # A plain Field: the driver already returns an int, and an IntegerField here would make
    # Django call int() on every row in Python.
    output_field = models.Field()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        return self.as_sql(compiler, connection, template="FLOOR(EXTRACT(EPOCH FROM %(expressions)s))::bigint", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
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
    """Certificates, with status filters whose list pages stay index reads at any table size.

    A page of a status list (`qs[skip:skip + limit]` in id order, as the API and the admin slice it)
    is one query in two steps: the page's ids, read from an index alone, then those rows by primary
    key. Without the first step PostgreSQL reads a 1.7 KB table row for every candidate it passes
    or sorts, matching or not; with it, a candidate costs one index entry.
    """

    # Whether a page's ids are read first (a status filter) or the queryset is sliced as usual.
    _page_ids = False

    def _clone(self) -> CertificateQuerySet:
        clone = super()._clone()
        clone._page_ids = self._page_ids
        return clone

    def _paged(self, ids_first: bool = True) -> CertificateQuerySet:
        clone = self._chain()
        clone._page_ids = ids_first
        return clone

    def _id_direction(self) -> str | None:
        """The direction ("asc" or "desc") when the rows are ordered by id alone, else None."""
        query = self.query
        order = tuple(query.order_by or (self.model._meta.ordering if query.default_ordering else ()))
        if query.extra_order_by or not query.standard_ordering or len(order) != 1:
            return None
        return {"id": "asc", "pk": "asc", "-id": "desc", "-pk": "desc"}.get(str(order[0]))

    def __getitem__(self, k: Any) -> Any:
        """Slicing, except for a status filter's page in id order: its ids, then its rows."""
        query = self.query
        direction = self._id_direction() if self._page_ids else None
        if (
            direction is None
            or not isinstance(k, slice)
            or k.step is not None
            or self._result_cache is not None
            or self._fields is not None
            or query.distinct
            or query.annotations
            or query.combinator
            or query.select_for_update
        ):
            return super().__getitem__(k)
        ids = self._paged(False).order_by("pk" if direction == "asc" else "-pk").values("pk")[k]
        # The rows by primary key alone. With the filters repeated here the planner could read
        # them through the filter's index again, for instance when its statistics predate the
        # certificates that expired since: it cannot know the subquery yields one page at most.
        rows = type(self)(model=self.model, using=self._db, hints=self._hints)
        rows = rows.filter(pk__in=ids).order_by("pk" if direction == "asc" else "-pk")
        rows.query.select_related = query.select_related
        rows.query.deferred_loading = query.deferred_loading
        rows._prefetch_related_lookups = self._prefetch_related_lookups
        return rows

    def revoked(self) -> CertificateQuerySet:
        return self.filter(revoked_at__isnull=False)

    def unrevoked(self) -> CertificateQuerySet:
        return self.filter(revoked_at__isnull=True)

    def expired(self) -> CertificateQuerySet:
        # Walked in id order through cert_unrevoked_org_idx, skipping valid certificates inside the
        # index: bounded by the organization's unrevoked certificates whatever the share of expired
        # ones (11 ms a page in-process at 1,000,000 rows when expired ones are old, spread or most
        # of them; 26 ms when all 44,000 come after 850,000 valid ones). Reading every expired id
        # from the expiry index and sorting them instead was flat at 20 ms for few expired rows but
        # grew with their number (74 ms with 900,000 expired, the usual state of a long-lived CA).
        return self.unrevoked().filter(not_after__lte=timezone.now())._paged()

    def valid(self) -> CertificateQuerySet:
        # Valid certificates are usually most of the organization's: a walk in id order through
        # cert_unrevoked_org_idx fills a page after a few entries, skipping expired ones inside the
        # index; the planner may take the expiry range instead when it holds few rows.
        return self.unrevoked().filter(not_after__gt=timezone.now())._paged()

    def issued_by(self, ca_id: int) -> CertificateQuerySet:
        # A page's ids come from cert_issuer_id_idx alone (it carries the organization). Reading
        # rows in id order instead, the planner may walk the primary key and pass every other CA's
        # certificate on the way: 100 ms a page at 1,000,000 rows when the CA's come last.
        return self.filter(issuer_id=ca_id)._paged()

    def with_status(self, status: str) -> CertificateQuerySet:
        return {"revoked": self.revoked, "expired": self.expired, "valid": self.valid}[status]()

    def expiring_within(self, days: int) -> CertificateQuerySet:
        now = timezone.now()
        return self.valid().filter(not_after__lte=now + timedelta(days=days))

    def crl_rows(self, issuer_id: int) -> Iterator[tuple[str, int, int | None]]:
        """(serial hex, revocation time in epoch seconds, reason code) of every certificate the CA
        revoked, streamed in chunks as plain tuples: a 100,000-entry CRL never holds model instances."""
        rows = self.filter(issuer_id=issuer_id, revoked_at__isnull=False).order_by()  # any order will do:
        # the model's `ORDER BY id` would walk the whole table by primary key
        rows = rows.values_list("serial_number", EpochSeconds("revoked_at"), "revocation_reason_code")
        return rows.iterator(chunk_size=5_000)
