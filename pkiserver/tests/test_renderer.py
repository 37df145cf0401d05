"""The API's JSON renderer (orjson): DRF's bytes, faster; DRF's refusals and indentation kept."""

from __future__ import annotations

import decimal
import json
import uuid
from datetime import UTC, date, datetime

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from certificates.tests.conftest import create_ca, issue_certificate
from pkiserver.api.renderers import JSONRenderer

PAYLOADS = [
    {"detail": "Not found."},
    ReturnList(
        [ReturnDict({"id": 1, "name": "é ü 漢字 🙂", "tags": [], "none": None, "yes": True}, serializer=None)],
        serializer=None,
    ),
    {"pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "quote": 'a "b" \\ c\t\x01'},
    {"big": 2**63 - 1, "negative": -5, "nested": {"list": [1, [2, [3]]], "empty": {}}},
    {1: "a number as a key", "2": "a string"},
    {"lazy": gettext_lazy("Not found."), "uuid": uuid.UUID(int=7), "decimal": decimal.Decimal("1.50")},
    {"when": datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=UTC), "day": date(2026, 12, 7), "tuple": (1, 2)},
    [],
    "",
]


@pytest.mark.parametrize("data", PAYLOADS, ids=range(len(PAYLOADS)))
def test_the_bytes_are_drfs(data):
    ours = JSONRenderer().render(data, "application/json")

    assert ours == renderers.JSONRenderer().render(data, "application/json")


def test_line_separators_are_written_as_themselves_and_read_back_the_same():
    data = {"text": "a\u2028b\u2029c"}

    ours = JSONRenderer().render(data, "application/json")

    assert "\u2028".encode() in ours
    assert json.loads(ours) == json.loads(renderers.JSONRenderer().render(data, "application/json")) == data


def test_nothing_renders_as_no_body():
    assert JSONRenderer().render(None, "application/json") == b""


def test_a_value_it_cannot_write_is_refused_not_written_as_null():
    with pytest.raises(TypeError):
        JSONRenderer().render({"object": object()}, "application/json")


@pytest.mark.parametrize("media_type", ["application/json; indent=4", "application/json; indent=2"])
def test_an_indent_asked_for_is_drfs(media_type):
    data = {"a": [1, 2], "b": {"c": "é"}}

    ours = JSONRenderer().render(data, media_type)

    assert ours == renderers.JSONRenderer().render(data, media_type)
    assert b"\n" in ours


@pytest.mark.parametrize("path", ["/api/v1/users/me", "/api/v1/certificates/?limit=100", "/api/v1/cas/"])
def test_the_api_answers_with_it(client_for, admin_a, path):
    ca = create_ca(admin_a)
    for i in range(3):
        issue_certificate(admin_a, ca, f"host{i}.example.com", san_dns_names=[f"alt{i}.example.com"])

    response = client_for(admin_a).get(path)

    assert response.status_code == 200

    assert isinstance(response.accepted_renderer, JSONRenderer)
    assert response.content == renderers.JSONRenderer().render(response.data, "application/json")
