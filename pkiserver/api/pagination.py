"""`skip`/`limit` pagination: a bare JSON array, with the total in `X-Total-Count`."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from pkiserver.api.serializers import FieldsOnceMixin
from pkiserver.db.rows import plain_rows

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_SKIP = 2**63 - 1 - MAX_LIMIT  # OFFSET and OFFSET + LIMIT stay 64-bit integers in the database


# Counting is the one list cost that grows with the table (an index-only scan of every matching
# row, about 5 ms per 100,000 on PostgreSQL). A total of COUNT_CACHE_MIN or more is kept per
# process for COUNT_CACHE_SECONDS, under the request's path, filters and caller, so paging through
# a large list counts once; smaller totals are counted on every request.
COUNT_CACHE_MIN = 10_000
COUNT_CACHE_SECONDS = 10.0
COUNT_CACHE_SIZE = 1024
_counts: OrderedDict[tuple[Any, ...], tuple[float, int]] = OrderedDict()
_counts_lock = threading.Lock()


def _total(queryset: QuerySet, request: Request) -> int:
    user = request.user
    filters = sorted((k, tuple(v)) for k, v in request.query_params.lists() if k not in ("skip", "limit"))
    caller = (type(user).__name__, user.pk, getattr(user, "role", None), getattr(user, "organization_id", None))
    key = (request.path, tuple(filters), caller)
    now = time.monotonic()
    with _counts_lock:
        cached = _counts.get(key)
    if cached is not None and now - cached[0] < COUNT_CACHE_SECONDS:
        return cached[1]
    total = queryset.count()
    if total >= COUNT_CACHE_MIN:
        with _counts_lock:
            _counts[key] = (now, total)
            _counts.move_to_end(key)
            if len(_counts) > COUNT_CACHE_SIZE:
                _counts.popitem(last=False)
    return total


class SkipLimitSerializer(FieldsOnceMixin, serializers.Serializer):
    skip = serializers.IntegerField(min_value=0, max_value=MAX_SKIP, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)


class SkipLimitPagination(BasePagination):
    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list[Any]:
        params = SkipLimitSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        skip, limit = params.validated_data["skip"], params.validated_data["limit"]
        self.total = _total(queryset, request)
        return list(plain_rows(queryset[skip : skip + limit]))

    def get_paginated_response(self, data: Any) -> Response:
        return Response(data, headers={"X-Total-Count": str(self.total)})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return schema

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "skip",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_SKIP, "default": 0},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            },
        ]


SKIP_LIMIT_PARAMETERS = [
    OpenApiParameter("skip", OpenApiTypes.INT, default=0),
    OpenApiParameter("limit", OpenApiTypes.INT, default=DEFAULT_LIMIT),
]
