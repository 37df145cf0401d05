"""Numbers past 64 bits, dates past year 9999 and odd OIDs are 400 or 404 on every database, never 500."""

from __future__ import annotations

import pytest

from tests.security.conftest import jwt_client

pytestmark = pytest.mark.security

HUGE = 10**30  # past a 64-bit integer: SQLite overflows, PostgreSQL refuses the bigint


CERT = {"common_name": "x.example.com", "subject_dn": "CN=x.example.com", "certificate_type": "server"}
# (method, path, body, expected status); {org}, {account} and {ca} name tenant A's objects.
CASES = {
    "ca-by-huge-id": ("get", f"/api/v1/cas/{HUGE}", None, 404),
    "cert-by-huge-id": ("get", f"/api/v1/certificates/{HUGE}", None, 404),
    "export-by-huge-id": ("get", f"/api/v1/export/certificate/{HUGE}/chain", None, 404),
    "user-by-huge-id": ("get", f"/api/v1/users/{HUGE}", None, 404),
    "member-huge-user": ("post", f"/api/v1/organizations/{{org}}/users/{HUGE}", None, 404),
    "token-huge-id": ("delete", f"/api/v1/service-accounts/{{account}}/tokens/{HUGE}", None, 404),
    "list-huge-skip": ("get", f"/api/v1/cas/?skip={HUGE}", None, 400),
    "list-skip-2**63": ("get", f"/api/v1/certificates/?skip={2**63}", None, 400),
    "audit-huge-skip": ("get", f"/api/v1/audit-logs/?skip={HUGE}", None, 400),
    "tokens-huge-skip": ("get", f"/api/v1/service-accounts/{{account}}/tokens/?skip={HUGE}", None, 400),
    "filter-huge-ca-id": ("get", f"/api/v1/certificates/?ca_id={HUGE}", None, 400),
    "issue-huge-ca-id": ("post", f"/api/v1/certificates/?ca_id={HUGE}", CERT, 404),
    "sign-csr-huge-ca-id": ("post", "/api/v1/certificates/sign-csr", {"csr": "x", "ca_id": HUGE}, 404),
    "parent-huge-id": ("post", "/api/v1/cas/", {"name": "x", "subject_dn": "CN=x", "parent_ca_id": HUGE}, 400),
    "user-huge-org": (
        "post",
        "/api/v1/users/",
        {"username": "zz", "email": "zz@example.com", "password": "a-long-password-1", "organization_id": HUGE},
        400,
    ),
    "sa-huge-org": ("post", "/api/v1/service-accounts/", {"name": "r", "organization_id": HUGE}, 400),
    "policy-huge-ca-id": (
        "put",
        "/api/v1/service-accounts/{account}/policy",
        {"allowed_ca_ids": [HUGE], "max_validity_days": 5},
        400,
    ),
    "audit-since-after-9999": ("get", "/api/v1/audit-logs/?since=9999-12-31T23:59:59-14:00", None, 400),
    "audit-until-before-1": ("get", "/api/v1/audit-logs/?until=0001-01-01T00:00:00%2B14:00", None, 400),
    "audit-offset-past-15h": ("get", "/api/v1/audit-logs/?until=1335-10-12T16:41:45%2B18:31", None, 200),
    "token-expiry-offset-past-15h": (
        "post",
        "/api/v1/service-accounts/{account}/tokens",
        {"expires_at": "2999-10-12T16:41:45+18:31"},
        201,
    ),
    "token-expiry-after-9999": (
        "post",
        "/api/v1/service-accounts/{account}/tokens",
        {"expires_at": "9999-12-31T23:59:59-14:00"},
        400,
    ),
    "subject-oid-0.40": ("post", "/api/v1/cas/", {"name": "x", "subject_dn": "0.40=x"}, 400),
    "cert-subject-oid-1.99": ("post", "/api/v1/certificates/?ca_id={ca}", {**CERT, "subject_dn": "1.99=x"}, 400),
    # 40 characters, 80 bytes in UTF-8: cryptography's limit of 64 is in bytes.
    "cn-of-80-utf8-bytes": (
        "post",
        "/api/v1/certificates/?ca_id={ca}",
        {**CERT, "common_name": "é" * 40, "subject_dn": "O=Example"},
        400,
    ),
    "subject-cn-of-80-utf8-bytes": ("post", "/api/v1/cas/", {"name": "x", "subject_dn": "CN=" + "é" * 40}, 400),
    "null-in-name": ("post", "/api/v1/organizations/", {"name": "x\x00y"}, 400),
}


@pytest.mark.parametrize(("method", "path", "body", "expected"), CASES.values(), ids=CASES.keys())
def test_out_of_range_input_is_a_client_error(tenant_a, superuser, method, path, body, expected):
    api = jwt_client(superuser)
    path = path.format(org=tenant_a.org.pk, account=tenant_a.account.pk, ca=tenant_a.child_ca.pk)

    response = getattr(api, method)(path, body, format="json")

    assert response.status_code == expected, response.content
    if expected >= 400:
        assert response.json()["detail"]


@pytest.mark.parametrize("value", [HUGE, -HUGE, "1e400", "NaN", "Infinity"])
@pytest.mark.parametrize("name", ["user_id", "resource_id"])
def test_audit_filters_take_any_number(tenant_a, superuser, name, value):
    response = jwt_client(superuser).get(f"/api/v1/audit-logs/?{name}={value}")

    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert response.json() == []
