"""Against gunicorn, as production runs it: the project's gunicorn.conf.py lets request lines of
8 KiB reach the application, and every refusal (gunicorn's own included) is JSON (SPEC §1)."""

from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlsplit

import pytest

from pkiserver.middleware import MAX_REQUEST_LINE

pytestmark = [pytest.mark.security, pytest.mark.live]


@pytest.fixture(scope="module")
def address(live_pkiserver) -> tuple[str, int]:
    parts = urlsplit(live_pkiserver.url)
    return parts.hostname, parts.port


def request(address, method: str, path: str, body=None, headers=None, **options) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection(*address, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {}, **options)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def raw(address, data: bytes) -> tuple[int, dict, bytes]:
    """Bytes no well-behaved client would send, answered by gunicorn itself."""
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def assert_json_error(answer: tuple[int, dict, bytes], status: int, code: str) -> dict:
    got, headers, body = answer
    assert got == status, body[:300]
    assert headers["content-type"] == "application/json"
    document = json.loads(body)
    assert document["code"] == code and document["detail"]
    return document


def _ocsp_path(line_length: int) -> str:
    path = "/ocsp/no-such-ca-1/"
    return path + "A" * (line_length - len("GET ") - len(path) - len(" HTTP/1.1"))


def test_a_request_line_of_8_kib_reaches_the_application(address):
    # The application's answer (the CA does not exist), not gunicorn's 4094-byte default refusal.
    assert_json_error(request(address, "GET", _ocsp_path(MAX_REQUEST_LINE)), 404, "not_found")


@pytest.mark.parametrize("length", [MAX_REQUEST_LINE + 1, 16_000, 100_000])
def test_a_longer_request_line_is_414_json(address, length):
    assert_json_error(request(address, "GET", _ocsp_path(length)), 414, "uri_too_long")


def test_a_chunked_body_without_a_length_is_411_json(address):
    body = iter([b'{"username": "chunky", "email": "chunky@example.com", ', b'"password": "a long passphrase"}'])

    answer = request(
        address, "POST", "/api/v1/users/", body=body, headers={"Content-Type": "application/json"}, encode_chunked=True
    )

    assert_json_error(answer, 411, "length_required")


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/crl/no-such-ca-1"), ("PUT", "/ocsp/no-such-ca-1"), ("POST", "/healthz")]
)
def test_a_method_a_public_route_does_not_take_is_405_json(address, method, path):
    answer = request(address, method, path, body=b"", headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert_json_error(answer, 405, "method_not_allowed")


def test_headers_past_gunicorn_s_limit_are_431_json(address):
    answer = raw(address, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")

    assert_json_error(answer, 431, "request_header_fields_too_large")


def test_a_request_line_that_is_not_http_is_400_json(address):
    answer = raw(address, b"NOT AN HTTP REQUEST\r\n\r\n")

    assert_json_error(answer, 400, "bad_request")
