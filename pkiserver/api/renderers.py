"""The API's JSON renderer: orjson (compiled) instead of the standard library's encoder.

A page of 100 certificates is about 200 KB of JSON, which orjson writes several times faster than
DRF's renderer (figures in bench/README.md). The bytes are DRF's: compact, UTF-8 without
`\\u` escapes, keys in the serializers' order, a number as a key written as a string. Two
differences, both still JSON: U+2028 and U+2029 are written as themselves (DRF escapes them for
JavaScript embedding), and a non-finite float would be `null` (the API writes no floats). Dates
and times, and types orjson does not know (lazy translated strings, Decimals, querysets), go to
DRF's own encoder: it writes "Z" and milliseconds, and refuses what it cannot write, where
drf-orjson-renderer's fallback would write `null`. A client that asks for indentation
(`Accept: application/json; indent=4`) gets DRF's renderer, as before.
"""

from __future__ import annotations

from typing import Any

import orjson
from drf_orjson_renderer.renderers import ORJSONRenderer
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

_drf_types = JSONEncoder()


class JSONRenderer(ORJSONRenderer):
    # Dates and times go to DRF's encoder too ("Z", milliseconds); no numpy: the API writes none.
    options = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
    default = staticmethod(_drf_types.default)  # TypeError for what it cannot write

    def render(self, data: Any, media_type: str | None = None, renderer_context: Any = None) -> bytes:
        context = renderer_context or {}
        if (media_type and ";" in media_type) or context.get("indent") is not None:
            drf = renderers.JSONRenderer()
            if drf.get_indent(media_type or "", context) is not None:
                return drf.render(data, media_type, renderer_context)
        return super().render(data, media_type, renderer_context)
