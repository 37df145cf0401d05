"""The API's JSON parser: a request body is one JSON object of plain text (SPEC §1, bad input)."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

# Deep enough for every body the API takes (a policy is two levels); far below the recursion limit.
MAX_DEPTH = 32
# A lone UTF-16 surrogate (JSON's "\ud800" escape) or a NUL: text no column, certificate or
# renderer should ever be handed.
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


class JSONParser(parsers.JSONParser):
    """DRF's parser, then three refusals as 400s: a body that is not an object, nesting past
    MAX_DEPTH, and a string (key or value) holding a NUL or a lone surrogate, named by its path."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # the stdlib decoder gives up near the interpreter's recursion limit
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None
        if not isinstance(data, dict):
            raise ParseError(f"The request body must be a JSON object, not {_json_type(data)}.")
        _check(data)
        return data


def _check(data: dict[str, Any]) -> None:
    """Walk the document without recursion: the depth is what is being checked."""
    pending: list[tuple[Any, str, int]] = [(data, "", 1)]
    while pending:
        value, path, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        if isinstance(value, dict):
            for key, item in value.items():
                name = f"{path}.{_printable(key)}" if path else _printable(key)
                if _BAD_CHARACTER.search(key):
                    raise ValidationError({name: ["Field names must not contain NUL or lone surrogate characters."]})
                pending.append((item, name, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))
        elif isinstance(value, str) and _BAD_CHARACTER.search(value):
            raise ValidationError({path: ["Must not contain NUL or lone surrogate characters."]})


def _printable(text: str) -> str:
    """A key as it can be written back in an error: a NUL or a surrogate as its escape, not itself."""
    return _BAD_CHARACTER.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
