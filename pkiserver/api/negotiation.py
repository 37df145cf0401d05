"""Content negotiation without parsing what needs no parsing."""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request

# What clients send when any JSON answer will do (or nothing at all, as http.client does).
_ANY_JSON = frozenset({"", "*/*", "application/json"})


class JSONNegotiation(DefaultContentNegotiation):
    """The API answers JSON only. DRF's negotiation parses the Accept header and matches media
    ranges on every request (6 % of a small authenticated request's CPU); when the header asks for
    JSON or anything, the answer is known. Other headers, a `?format=` and views with several
    renderers are negotiated as before (so a request that accepts no JSON still gets a 406)."""

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        if (
            len(renderers) == 1
            and format_suffix is None
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
            and request.META.get("HTTP_ACCEPT", "").strip() in _ANY_JSON
            and renderers[0].media_type == "application/json"
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
