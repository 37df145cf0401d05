"""Bad input on every route of the OpenAPI schema, as anonymous, user and superuser: never a 5xx.

"Bad input" as SPEC §1 lists it: bodies that are not JSON objects, JSON nested far too deep, lone
UTF-16 surrogates and NULs in values and in keys, over-long values, wrong types, unknown keys,
bytes that are not UTF-8, and hostile path ids and query values. The routes come from the schema
itself, so a route added tomorrow is swept too. Each example runs in a savepoint rolled back
afterwards, so one caller's delete does not starve the next example.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.tokens import session_start
from tests.security.conftest import Tenant

pytestmark = pytest.mark.security

# Bounded: the sweep is 53 operations x 3 callers; PKISERVER_SWEEP_EXAMPLES raises it for a long hunt.
EXAMPLES = int(os.environ.get("PKISERVER_SWEEP_EXAMPLES", "6"))
METHODS = ("get", "post", "put", "patch", "delete")


def _operations() -> list[tuple[str, str, list[str], list[str]]]:
    """(method, path, body field names, query parameter names) of every operation in the schema."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    found = []
    for path, item in sorted(schema["paths"].items()):
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            fields: list[str] = []
            for content in operation.get("requestBody", {}).get("content", {}).values():
                ref = content["schema"].get("$ref", "")
                fields += components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            found.append((method, path, sorted(set(fields)), query))
    return found


OPERATIONS = _operations()

# --- hostile values ---------------------------------------------------------------------------

# Values that are almost right: real choices, URLs, DNs and digits that are not ASCII digits.
NEAR_MISSES = [
    "server", "ca", "rsa", "ecdsa", "key_compromise", "superuser", "https://bücher.example", "ftp://example.com/x",
    "CN=x", "-----BEGIN CERTIFICATE REQUEST-----\n", "2026-13-45", "1e999", "NaN", "\uff10", "\u0661\u0662",
]  # fmt: skip
SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
HOSTILE_TEXT = (
    st.text(max_size=20)
    | st.builds(lambda a, s, b: a + s + b, st.text(max_size=5), SURROGATE, st.text(max_size=5))
    | st.builds(lambda a, b: a + "\x00" + b, st.text(max_size=5), st.text(max_size=5))
    | st.integers(300, 70_000).map(lambda n: "A" * n)  # past every max_length, within the body limit
    | st.sampled_from(NEAR_MISSES)
)
HOSTILE_NUMBER = st.sampled_from([0, -1, 2**31, 2**63, -(2**63) - 1, 10**30, 10**400, 1.5, -0.0, 1e308])
SCALAR = st.none() | st.booleans() | HOSTILE_NUMBER | st.integers() | HOSTILE_TEXT
HOSTILE_VALUE = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
    max_leaves=6,
)
HOSTILE_ID = st.sampled_from(["0", "-1", "99999999999999999999", "9223372036854775808", "abc", "1e3", "%00", "\u0661"])


def _nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


CONTENT_TYPES = [
    *["application/json"] * 4,
    "application/x-www-form-urlencoded",
    "multipart/form-data",  # and no boundary
    "text/plain",
    "application/json; charset=utf-16",
]
# Every body field and query parameter the schema names, on every route: a field one route ignores
# is another route's choice field, and an unknown key is bad input too.
FIELDS = sorted({name for _, _, fields, _ in OPERATIONS for name in fields})
QUERY = sorted({name for _, _, _, query in OPERATIONS for name in query})


@dataclass(frozen=True)
class Hostile:
    body: bytes
    content_type: str = "application/json"
    ids: tuple[str, ...] = ()  # path ids to use instead of real ones, in order
    query: tuple[tuple[str, str], ...] = ()
    slash: bool = True


def _every_field(value: Any) -> bytes:
    return json.dumps(dict.fromkeys(FIELDS, value)).encode()  # ASCII: a lone surrogate as its escape


@st.composite
def hostile_requests(draw: st.DrawFn) -> Hostile:
    kind = draw(st.sampled_from(["object", "object", "object", "not-object", "deep", "bytes", "empty"]))
    if kind == "object":
        document = draw(st.dictionaries(st.sampled_from(FIELDS) | HOSTILE_TEXT, HOSTILE_VALUE, max_size=6))
        body = json.dumps(document).encode()
    elif kind == "not-object":
        body = json.dumps(draw(HOSTILE_VALUE.filter(lambda v: not isinstance(v, dict)))).encode()
    elif kind == "deep":
        body = _nested(draw(st.integers(33, 40_000)), draw(st.sampled_from(["array", "object"]))).encode()
    elif kind == "bytes":
        body = draw(
            st.binary(max_size=64) | st.sampled_from([b"\xff\xfe{}", b"\xef\xbb\xbf{}", b'{"a":"\xed\xa0\x80"}'])
        )
    else:
        body = b""
    query = draw(
        st.lists(st.tuples(st.sampled_from(QUERY) | HOSTILE_TEXT, HOSTILE_TEXT | HOSTILE_NUMBER.map(str)), max_size=3)
    )
    return Hostile(
        body=body,
        content_type=draw(st.sampled_from(CONTENT_TYPES)),
        ids=tuple(draw(st.lists(HOSTILE_ID, max_size=2))),
        query=tuple(query),
        slash=draw(st.booleans()),
    )


# Always tried, on every route: the issue's own examples, whatever the random draws.
NAMED = [
    Hostile(_nested(1000, "array").encode()),
    Hostile(_nested(60_000, "array").encode()),  # past any recursion limit, under the body limit
    Hostile(_nested(40_000, "object").encode()),
    Hostile(b"[]"),
    Hostile(b'"admin"'),
    Hostile(_every_field("\ud800")),  # a lone surrogate in every field, choice fields included
    Hostile(_every_field(["x\udfff"])),
    Hostile(_every_field("a\x00b")),
    Hostile(_every_field("A" * 3000)),  # past every max_length, in one request
    Hostile(_every_field(10**30)),
    Hostile(json.dumps({"\ud800": 1, "a\x00": 2}).encode()),  # unknown keys that echo badly
    Hostile(b"{}", ids=("99999999999999999999", "9223372036854775808")),
    Hostile(b"{}", query=tuple((name, "\ud800") for name in QUERY)),  # sent as the bytes a surrogate would be
    Hostile(b"{}", query=tuple((name, "9" * 30) for name in QUERY)),
]


# --- callers and the world they act on --------------------------------------------------------


@pytest.fixture
def world(settings: Any, tenant_a: Tenant, superuser: Any) -> dict[str, Any]:
    settings.CA_KEY_SIZE = 2048  # a body that happens to be valid must not cost an RSA-4096 key
    settings.CERT_KEY_SIZE = 2048
    ids = {
        "users": tenant_a.member.pk,
        "organizations": tenant_a.org.pk,
        "cas": tenant_a.child_ca.pk,
        "ca": tenant_a.child_ca.pk,
        "certificates": tenant_a.cert.pk,
        "certificate": tenant_a.cert.pk,
        "service-accounts": tenant_a.account.pk,
        "user_id": tenant_a.member.pk,
        "token_id": tenant_a.account_token.pk,
        "kid": tenant_a.account_eab_kid,
    }
    return {"tenant": tenant_a, "superuser": superuser, "ids": ids}


def _path(template: str, ids: dict[str, int], hostile: tuple[str, ...], slash: bool) -> str:
    resource = re.match(r"/api/v1/(?:export/)?([a-z-]+)/", template)[1]
    substitutes = list(hostile)

    def value(match: re.Match[str]) -> str:
        if substitutes:
            return substitutes.pop(0)
        return str(ids[resource if match[1] == "id" else match[1]])

    path = re.sub(r"{(\w+)}", value, template)
    return path if slash else path.rstrip("/")


def _callers(world: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    tenant = world["tenant"]
    callers = [("anonymous", {})]
    for name, user in (("user", tenant.member), ("superuser", world["superuser"])):
        token = session_start(user=user).access_token  # fresh: an earlier example may have logged out
        callers.append((name, {"HTTP_AUTHORIZATION": f"Bearer {token}"}))
    return callers


def _with_named_examples(test: Any) -> Any:
    for hostile in reversed(NAMED):
        test = example(bad=hostile)(test)
    return test


SWEPT = [(m, p) for m, p, _, _ in OPERATIONS]


@pytest.mark.parametrize(("method", "template"), SWEPT, ids=[f"{m.upper()} {p}" for m, p in SWEPT])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@_with_named_examples
@given(bad=hostile_requests())
def test_bad_input_never_answers_5xx(world, method, template, bad):
    path = _path(template, world["ids"], bad.ids, bad.slash)
    # Percent-encoded as a client would send it; a lone surrogate as the bytes it would have been.
    query_string = urlencode(bad.query, encoding="utf-8", errors="surrogatepass")
    client = APIClient(raise_request_exception=True)
    for caller, headers in _callers(world):
        with transaction.atomic():
            response = client.generic(method, path, bad.body, bad.content_type, QUERY_STRING=query_string, **headers)
            transaction.set_rollback(True)
        failure = (caller, method, path, query_string[:200], bad.body[:300], response.content[:500])
        assert response.status_code < 500, failure
        if response.status_code >= 400:
            assert response["Content-Type"].startswith("application/json"), failure
            assert "detail" in response.json(), failure


# --- the shapes the issue named, on every route that takes a body, each a 400 -----------------

BODY_OPERATIONS = [(m, p, "ca_id" in query) for m, p, fields, query in OPERATIONS if fields]
NOT_OBJECTS = {
    "array": b"[]",
    "string": b'"admin"',
    "number": b"1",
    "null": b"null",
    "nested-1000-arrays": _nested(1000, "array").encode(),
    "nested-1000-objects": _nested(1000, "object").encode(),
    "nested-33": _nested(33, "array").encode(),
}


@pytest.mark.parametrize(
    ("method", "template", "takes_ca_id"), BODY_OPERATIONS, ids=[f"{m.upper()} {p}" for m, p, _ in BODY_OPERATIONS]
)
def test_a_body_that_is_not_a_json_object_is_400(world, method, template, takes_ca_id):
    client = APIClient()
    client.credentials(**dict(_callers(world))["superuser"])
    path = _seeded(template, world["ids"]) + (f"?ca_id={world['ids']['cas']}" if takes_ca_id else "")

    answers = {shape: client.generic(method, path, body, "application/json") for shape, body in NOT_OBJECTS.items()}

    assert {shape: (r.status_code, r.json()["code"]) for shape, r in answers.items()} == dict.fromkeys(
        NOT_OBJECTS, (400, "parse_error")
    )


def _seeded(template: str, ids: dict[str, int]) -> str:
    resource = re.match(r"/api/v1/(?:export/)?([a-z-]+)/", template)[1]
    return re.sub(r"{(\w+)}", lambda match: str(ids[resource if match[1] == "id" else match[1]]), template)


NUL_AND_SURROGATES = {
    "surrogate-in-a-choice": ("/api/v1/cas/", {"name": "R", "subject_dn": "CN=R", "key_algorithm": "\ud800"}, "key_algorithm"),
    "surrogate-key": ("/api/v1/cas/", {"name": "R", "subject_dn": "CN=R", "\ud800": 1}, "\\ud800"),  # unknown, echoed
    "nul-in-a-value": ("/api/v1/cas/", {"name": "R\u0000", "subject_dn": "CN=R"}, "name"),
    "surrogate-in-a-list": ("/api/v1/cas/", {"name": "R", "subject_dn": "CN=R", "crl_base_url": ["\udfff"]}, "crl_base_url[0]"),
    "surrogate-username": ("/api/v1/auth/token", {"username": "ro\ud800ot", "password": "long enough"}, "username"),
    "nul-in-a-policy-pattern": ("/api/v1/service-accounts/{sa}/policy", {"cn_patterns": ["a\u0000.example"]}, "cn_patterns[0]"),
}  # fmt: skip


@pytest.mark.parametrize(("path", "document", "field"), NUL_AND_SURROGATES.values(), ids=NUL_AND_SURROGATES.keys())
def test_nul_and_lone_surrogates_are_400_naming_the_field(world, path, document, field):
    client = APIClient()
    client.credentials(**dict(_callers(world))["superuser"])
    body = json.dumps(document).encode()  # ASCII: the surrogate travels as its \\ud800 escape

    response = client.generic(
        "PUT" if path.endswith("policy") else "POST",
        path.format(sa=world["ids"]["service-accounts"]),
        body,
        "application/json",
    )

    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]


def test_an_error_that_echoes_a_lone_surrogate_still_renders():
    # Defence in depth behind the parser: should any message echo a surrogate, the answer is still JSON.
    from rest_framework.exceptions import ValidationError

    from pkiserver.api.errors import exception_handler
    from pkiserver.api.renderers import JSONRenderer

    response = exception_handler(ValidationError({"role\ud800": ['"\udfff" is not a valid choice.']}), {})

    assert response.status_code == 400
    assert json.loads(JSONRenderer().render(response.data)) == {
        "detail": 'role\\ud800: "\\udfff" is not a valid choice.',
        "code": "invalid",
        "errors": {"role\\ud800": ['"\\udfff" is not a valid choice.']},
    }
