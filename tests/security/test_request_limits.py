"""Oversized bodies, subjects and CSRs, and out-of-bounds key sizes and validity, are refused before any crypto."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from django.conf import settings

from certificates import x509 as pki
from certificates.models import Certificate, CertificateAuthority
from tests.security.conftest import jwt_client

pytestmark = pytest.mark.security

LIMIT = 256 * 1024
QUICK = 5.0  # seconds, generous for a busy CI machine: an RSA-16384 key alone takes minutes


@pytest.fixture
def no_crypto(monkeypatch):
    """Fail the test if the request reaches key generation or CSR parsing."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the request reached crypto work")

    monkeypatch.setattr(pki, "generate_private_key", forbidden)
    monkeypatch.setattr(pki, "load_csr", forbidden)


@pytest.fixture
def api(tenant_a):
    return jwt_client(tenant_a.admin)


def test_the_body_limit_is_256_kib():
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == LIMIT


def _routes(tenant):
    return {
        "ca-create": ("post", "/api/v1/cas/"),
        "cert-issue": ("post", f"/api/v1/certificates/?ca_id={tenant.child_ca.pk}"),
        "sign-csr": ("post", "/api/v1/certificates/sign-csr"),
        "renew": ("post", f"/api/v1/certificates/{tenant.cert.pk}/renew"),
        "revoke": ("post", f"/api/v1/certificates/{tenant.cert.pk}/revoke"),
        "user-create": ("post", "/api/v1/users/"),
        "org-update": ("put", f"/api/v1/organizations/{tenant.org.pk}"),
        "policy": ("put", f"/api/v1/service-accounts/{tenant.account.pk}/policy"),
    }


ROUTES = ["ca-create", "cert-issue", "sign-csr", "renew", "revoke", "user-create", "org-update", "policy"]


@pytest.mark.parametrize("route", ROUTES)
def test_a_body_over_the_limit_is_413_json(api, tenant_a, no_crypto, route):
    method, path = _routes(tenant_a)[route]
    body = {"name": "big", "description": "A" * LIMIT, "csr": "B" * 10}
    counts = (CertificateAuthority.objects.count(), Certificate.objects.count())

    started = time.monotonic()
    response = getattr(api, method)(path, body, format="json")

    assert time.monotonic() - started < QUICK
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": f"The request body is larger than {LIMIT} bytes.",
        "code": "request_too_large",
    }
    assert (CertificateAuthority.objects.count(), Certificate.objects.count()) == counts


def test_a_form_login_over_the_limit_is_413(anon):
    body = urlencode({"username": "root", "password": "x" * LIMIT})

    response = anon.post("/api/v1/auth/token", body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


@pytest.mark.parametrize("content_type", ["json", "multipart"])
def test_behind_the_middleware_the_api_still_answers_413(settings, api, no_crypto, content_type):
    # Defence in depth: should a body get past the middleware (removed here), Django's own limit
    # fires when DRF reads it, and the exception handler turns it into the same 413, not a 400 page.
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if not name.endswith("request_size_limit")]
    body = {"name": "big", "subject_dn": "CN=big", "description": "A" * LIMIT}

    if content_type == "json":
        response = api.post("/api/v1/cas/", body, format="json")
    else:
        response = api.post("/api/v1/auth/token", {"username": "root", "password": "A" * LIMIT}, format="multipart")

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_a_body_just_under_the_limit_reaches_validation(api, no_crypto):
    # The limit is the threshold, not a blanket refusal: this one is judged by its fields.
    body = {"name": "big", "subject_dn": "CN=big", "description": "A" * (LIMIT - 1000)}

    response = api.post("/api/v1/cas/", body, format="json")

    assert response.status_code == 400
    assert "description" in response.json()["errors"]


def test_public_ocsp_keeps_its_own_protocol_for_big_bodies(tenant_a, client):
    # Outside /api the limit answers in the endpoint's own language (an OCSP malformedRequest).
    response = client.post(f"/ocsp/{tenant_a.ca.slug}", b"0" * (LIMIT + 1), content_type="application/ocsp-request")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/ocsp-response"


SUBJECT_OVER_LIMIT = "CN=" + "a" * 2046  # 2049 characters


@pytest.mark.parametrize("route", ["ca-create", "cert-issue", "sign-csr"])
def test_a_subject_over_2048_characters_is_400(api, tenant_a, no_crypto, route):
    method, path = _routes(tenant_a)[route]
    body = {
        "name": "Long",
        "common_name": "a",
        "subject_dn": SUBJECT_OVER_LIMIT,
        "certificate_type": "server",
        "csr": "-----BEGIN CERTIFICATE REQUEST-----\n",
        "ca_id": tenant_a.child_ca.pk,
    }

    response = getattr(api, method)(path, body, format="json")

    assert response.status_code == 400
    assert "subject_dn" in response.json()["errors"]


CSR_OVER_LIMIT = "-----BEGIN CERTIFICATE REQUEST-----\n" + "A" * (64 * 1024) + "\n-----END CERTIFICATE REQUEST-----\n"


@pytest.mark.parametrize("route", ["sign-csr", "renew"])
def test_a_csr_over_64_kib_is_400_unparsed(api, tenant_a, no_crypto, route):
    method, path = _routes(tenant_a)[route]

    response = getattr(api, method)(path, {"csr": CSR_OVER_LIMIT, "ca_id": tenant_a.child_ca.pk}, format="json")

    assert response.status_code == 400
    assert "csr" in response.json()["errors"]


KEY_SPECS = {
    "rsa-16384": ("rsa", 16384),
    "default-16384": (None, 16384),
    "rsa-8192": ("rsa", 8192),
    "rsa-1024": ("rsa", 1024),
    "rsa-googol": ("rsa", 10**100),
    "rsa-negative": ("rsa", -4096),
    "ecdsa-1024": ("ecdsa", 1024),
    "ecdsa-128": ("ecdsa", 128),
}


@pytest.mark.parametrize("route", ["ca-create", "cert-issue"])
@pytest.mark.parametrize(("algorithm", "size"), KEY_SPECS.values(), ids=KEY_SPECS.keys())
def test_key_sizes_out_of_bounds_are_refused_without_key_generation(api, tenant_a, no_crypto, route, algorithm, size):
    method, path = _routes(tenant_a)[route]
    body = {
        "name": "Huge Key",
        "common_name": "huge.example.com",
        "subject_dn": "CN=huge.example.com",
        "certificate_type": "server",
        "key_size": size,
    }
    if algorithm:
        body["key_algorithm"] = algorithm

    started = time.monotonic()
    response = getattr(api, method)(path, body, format="json")

    assert time.monotonic() - started < QUICK
    assert response.status_code == 400
    assert "key_size" in response.json()["errors"]


@pytest.mark.parametrize("route", ["ca-create", "cert-issue", "sign-csr"])
@pytest.mark.parametrize("days", [36501, 10**12, 0, -1])
def test_validity_out_of_bounds_is_400(api, tenant_a, no_crypto, route, days):
    method, path = _routes(tenant_a)[route]
    body = {
        "name": "Long Lived",
        "common_name": "long.example.com",
        "subject_dn": "CN=long.example.com",
        "certificate_type": "server",
        "valid_days": days,
        "csr": "-----BEGIN CERTIFICATE REQUEST-----\n",
        "ca_id": tenant_a.child_ca.pk,
    }

    response = getattr(api, method)(path, body, format="json")

    assert response.status_code == 400
    assert "valid_days" in response.json()["errors"]


def test_the_longest_validity_is_accepted(api, tenant_a):
    # The control for the table above: 36500 days is the bound, not past it.
    body = {"common_name": "a.example.com", "subject_dn": "CN=a.example.com", "certificate_type": "server",
            "valid_days": 36500, "key_algorithm": "ecdsa", "key_size": 256}  # fmt: skip

    response = api.post(f"/api/v1/certificates/?ca_id={tenant_a.child_ca.pk}", body, format="json")

    assert response.status_code == 201, response.content
