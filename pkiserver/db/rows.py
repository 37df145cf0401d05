"""Model instances from hand-written SELECTs, for the few lookups on every request's path.

The ORM compiles a query again each time it runs; for a primary-key lookup of a wide row that
costs several times the lookup itself (0.4 ms of CPU for a CA). A `Rows` knows its model's
columns and the ORM's value converters once, so a hand-written statement reads into a model
instance exactly as the ORM would (time zones, booleans and UUIDs on SQLite included).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import cached_property
from typing import Any, Generic, TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)


class Rows(Generic[M]):
    """How to read `model` rows selected as `alias.columns`: all concrete fields, or only those
    named in `only` (the others are deferred, loaded if something reads them)."""

    def __init__(self, model: type[M], alias: str = "t", only: Collection[str] = ()) -> None:
        self.model = model
        self.alias = alias
        self.fields = [f for f in model._meta.concrete_fields if not only or f.attname in only]
        self.attnames = [f.attname for f in self.fields]
        self.table = connection.ops.quote_name(model._meta.db_table)

    @cached_property
    def columns(self) -> str:
        """`alias.col, ...` in the order `load` takes them."""
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(f.column)}" for f in self.fields)

    @cached_property
    def _converters(self) -> list[tuple[int, list[Any], Any]]:
        found = []
        for i, field in enumerate(self.fields):
            col = field.get_col(self.alias)
            fns = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
            if fns:
                found.append((i, fns, col))
        return found

    def load(self, row: Sequence[Any]) -> M:
        """An instance from the first `len(self.fields)` values of `row`."""
        values = list(row[: len(self.fields)])
        for i, fns, col in self._converters:
            value = values[i]
            for fn in fns:
                value = fn(value, col, connection)
            values[i] = value
        return self.model.from_db(connection.alias, self.attnames, values)

    def one(self, sql: str, params: Sequence[Any]) -> M | None:
        """The first row of `sql` (which selects `self.columns` first) as an instance, or None."""
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return None if row is None else self.load(row)
