"""Model instances from hand-written SELECTs, for the few lookups on every request's path.

The ORM compiles a query again each time it runs; for a primary-key lookup of a wide row that
costs several times the lookup itself (0.4 ms of CPU for a CA). A `Rows` knows its model's
columns and the ORM's value converters once, so a hand-written statement reads into a model
instance exactly as the ORM would (time zones, booleans and UUIDs on SQLite included).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from functools import cache, cached_property, lru_cache
from typing import Any, Generic, TypeVar

from django.db import connection, transaction
from django.db.models import Model, QuerySet, signals
from django.db.models.base import ModelState
from django.db.models.query import ModelIterable
from django.db.models.query_utils import DeferredAttribute

M = TypeVar("M", bound=Model)


class Rows(Generic[M]):
    """How to read `model` rows selected as `alias.columns`: all concrete fields, or only those
    named in `only` (the others are deferred, loaded if something reads them)."""

    def __init__(self, model: type[M], alias: str = "t", only: Collection[str] = ()) -> None:
        self.model = model
        self.alias = alias
        self.fields = [f for f in model._meta.concrete_fields if not only or f.attname in only]
        self.attnames = [f.attname for f in self.fields]
        self.whole = len(self.fields) == len(model._meta.concrete_fields)  # no field deferred
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
        if self.whole and plain(self.model):
            return made(self.model, connection.alias, self.attnames, values)
        return self.model.from_db(connection.alias, self.attnames, values)

    def one(self, sql: str, params: Sequence[Any]) -> M | None:
        """The first row of `sql` (which selects `self.columns` first) as an instance, or None."""
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return None if row is None else self.load(row)


@cache
def _plain_class(model: type[Model]) -> bool:
    """Whether `Model.__init__` would only store each field's value for `model`: neither it nor
    `from_db` is overridden, and every concrete field is read through Django's own attribute
    (a plain field's, or a foreign key's id whose setter only drops a cached related object)."""
    return (
        model.__init__ is Model.__init__
        and model.from_db.__func__ is Model.from_db.__func__  # type: ignore[attr-defined]
        and all(isinstance(model.__dict__.get(f.attname), DeferredAttribute) for f in model._meta.concrete_fields)
    )


def plain(model: type[Model]) -> bool:
    """Whether `made` gives what `model.from_db` would for a whole row (no init signal receivers)."""
    return _plain_class(model) and not (signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model))


def made(model: type[M], db: str, attnames: Sequence[str], values: Sequence[Any]) -> M:
    """The instance `model.from_db(db, attnames, values)` makes, for a row of every concrete field
    and a `plain` model, without `Model.__init__`'s per-field work (a page of 100 certificates:
    0.6-0.7 ms of the 6-7 ms it took to read, write out and render)."""
    obj = model.__new__(model)
    obj.__dict__.update(zip(attnames, values, strict=True))
    state = obj._state = ModelState()
    state.adding = False
    state.db = db
    return obj


class PlainModelIterable(ModelIterable):
    """The ORM's `ModelIterable`, making each instance with `made` when the query reads whole rows
    of one `plain` model and nothing else (no related rows, annotations or deferred fields)."""

    def __iter__(self) -> Any:
        queryset = self.queryset
        query = queryset.query
        model = queryset.model
        if (
            query.select_related
            or query.annotation_select
            or query.extra_select
            or queryset._known_related_objects
            or query.deferred_loading != (frozenset(), True)
            or not plain(model)
        ):
            yield from super().__iter__()
            return
        db = queryset.db
        compiler = query.get_compiler(using=db)
        results = compiler.execute_sql(chunked_fetch=self.chunked_fetch, chunk_size=self.chunk_size)
        fields = compiler.klass_info["select_fields"]
        attnames = [column[0].target.attname for column in compiler.select[fields[0] : fields[-1] + 1]]
        if compiler.klass_info["model"] is not model or len(attnames) != len(model._meta.concrete_fields):
            raise AssertionError(f"{model.__name__}: a query of whole rows selected {attnames}")
        for row in compiler.results_iter(results):
            yield made(model, db, attnames, row)


def plain_rows(queryset: QuerySet[M]) -> QuerySet[M]:
    """`queryset` read with `PlainModelIterable` where it would make model instances."""
    if queryset._iterable_class is ModelIterable:
        queryset = queryset._chain()
        queryset._iterable_class = PlainModelIterable
    return queryset


class Inserts(Generic[M]):
    """New `model` rows written with an `INSERT` compiled once: the values are what `Model.save()`
    sends for a new instance (defaults, `auto_now`, each field's database value), without the ORM
    compiling the statement again on every call. No signals are sent (the models that use it have
    no receivers)."""

    def __init__(self, model: type[M]) -> None:
        meta = model._meta
        self.model = model
        self.pk = meta.pk
        self.fields = [f for f in meta.local_concrete_fields if not f.generated and f is not meta.auto_field]
        quote = connection.ops.quote_name
        self.table = quote(meta.db_table)
        self.columns = ", ".join(quote(f.column) for f in self.fields)
        self.placeholders = ", ".join(["%s"] * len(self.fields))
        self.returning = f"RETURNING {quote(self.pk.column)}"

    def values(self, obj: M) -> list[Any]:
        if obj.pk is not None or not obj._state.adding:
            raise ValueError(f"{obj!r} is not a new row")
        return [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in self.fields]

    def saved(self, obj: M, pk: Any) -> M:
        setattr(obj, self.pk.attname, pk)
        obj._state.adding = False
        obj._state.db = connection.alias
        return obj

    def insert(self, obj: M) -> M:
        """Write `obj` (a new instance) and set its primary key."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {self.table} ({self.columns}) VALUES ({self.placeholders}) {self.returning}",  # noqa: S608
                self.values(obj),
            )
            return self.saved(obj, cursor.fetchone()[0])

    def insert_with(
        self, obj: M, other: Inserts[Any], dependent: Model, link: str, where: tuple[str, Sequence[Any]] | None = None
    ) -> M | None:
        """Write `obj`, then `dependent` (an instance of `other`'s model) whose field `link` takes
        `obj`'s new primary key, both or neither. `where`, an SQL condition and its parameters, is
        checked by the statement that writes `obj`: when it does not hold, nothing is written and
        the answer is None. On PostgreSQL this is one statement (the second `INSERT` in a `WITH`
        reads the first one's id), atomic on its own; elsewhere two, in a transaction."""
        if getattr(dependent, link) is not None:
            raise ValueError(f"{link} is set by insert_with")
        condition, condition_params = where or ("1 = 1", ())
        if connection.vendor != "postgresql":
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {self.table} ({self.columns}) SELECT {self.placeholders} "
                    f"WHERE {condition} {self.returning}",
                    [*self.values(obj), *condition_params],
                )
                row = cursor.fetchone()
                if row is None:
                    return None
                self.saved(obj, row[0])
                setattr(dependent, link, obj.pk)
                other.insert(dependent)
            return obj
        # INSERT … SELECT takes its types from the SELECT, not the target: each value is cast to
        # its column's type (without length, so an overlong value is refused as by VALUES).
        index = [f.attname for f in other.fields].index(link)
        values = other.values(dependent)
        del values[index]
        with connection.cursor() as cursor:
            cursor.execute(self._with_sql(other, index, condition), [*self.values(obj), *condition_params, *values])
            row = cursor.fetchone()
        if row is None:
            return None
        pk, dependent_pk = row
        self.saved(obj, pk)
        setattr(dependent, link, pk)
        other.saved(dependent, dependent_pk)
        return obj

    @cached_property
    def _casts(self) -> list[str]:
        """`CAST(%s AS type)` per field: its column's type, without a length or precision."""
        return [f"CAST(%s AS {re.sub(r'[(].*[)]', '', f.db_type(connection) or 'text')})" for f in self.fields]

    @lru_cache(maxsize=64)  # noqa: B019 - a few module-level instances, each with a handful of statements
    def _with_sql(self, other: Inserts[Any], index: int, condition: str) -> str:
        slots = list(other._casts)
        slots[index] = "parent.id"
        return (
            f"WITH parent AS (INSERT INTO {self.table} ({self.columns}) "  # noqa: S608
            f"SELECT {', '.join(self._casts)} WHERE {condition} "
            f"RETURNING {connection.ops.quote_name(self.pk.column)} AS id), "
            f"child AS (INSERT INTO {other.table} ({other.columns}) SELECT {', '.join(slots)} FROM parent "
            f"{other.returning}) "
            "SELECT parent.id, child.* FROM parent, child"
        )
