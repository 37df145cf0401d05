"""`skip`/`limit` pagination: a bare JSON array, with the total in `X-Total-Count`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_SKIP = 2**63 - 1 - MAX_LIMIT  # OFFSET and OFFSET + LIMIT stay 64-bit integers in the database


class SkipLimitSerializer(serializers.Serializer):
    skip = serializers.IntegerField(min_value=0, max_value=MAX_SKIP, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)


class SkipLimitPagination(BasePagination):
    def paginate_queryset(
        self, queryset: QuerySet[Any] | Sequence[Any], request: Request, view: Any = None
    ) -> list[Any]:
        params = SkipLimitSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        skip, limit = params.validated_data["skip"], params.validated_data["limit"]
        self.total = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
        return list(queryset[skip : skip + limit])

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
