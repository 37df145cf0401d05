"""IDOR sweep: every object route of the API, every method, called by another organization's user,
admin and service account: 403, none of the object's data in the answer, nothing changed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import AuthSession, User
from acmeserver.models import EabCredential
from certificates.models import Certificate, CertificateAuthority, RevocationList
from orgs.models import Organization
from serviceaccounts.models import IssuancePolicy, ServiceAccount, ServiceAccountToken
from tests.security.conftest import Tenant, jwt_client, response_text, token_client

pytestmark = pytest.mark.security

API_PREFIX = "api/v1/"
METHODS = ("get", "post", "put", "patch", "delete")
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def _methods(pattern: URLPattern) -> dict[str, str]:
    """{http method: view action} of a router (viewset) URL or a plain APIView."""
    actions = getattr(pattern.callback, "actions", None)
    if actions:
        return dict(actions)
    cls = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
    return {m: m for m in METHODS if cls is not None and hasattr(cls, m)}


def object_routes() -> list[tuple[str, str, str, type | None]]:
    """(regex, method, action, view class) for every API URL that names an object by id,
    read from the URL resolver, so a route added tomorrow is swept too."""
    found = []
    for regex, pattern in _walk(get_resolver().url_patterns):
        regex = regex.replace("^", "").replace("$", "")
        if not regex.startswith(API_PREFIX) or not _GROUP.search(regex):
            continue
        for method, action in sorted(_methods(pattern).items()):
            found.append((regex, method, action, getattr(pattern.callback, "cls", None)))
    return found


ROUTES = object_routes()


def _route_id(route: tuple[str, str, str, type | None]) -> str:
    regex, method, _, _ = route
    return f"{method.upper()} /{_GROUP.sub(lambda m: '{' + m['name'] + '}', regex).replace('/?', '')}"


def test_the_walk_finds_every_known_object_route():
    seen = {_route_id(route) for route in ROUTES}

    assert {
        "GET /api/v1/users/{pk}", "PATCH /api/v1/users/{pk}", "DELETE /api/v1/users/{pk}",
        "PUT /api/v1/organizations/{pk}", "POST /api/v1/organizations/{pk}/users/{user_id}",
        "GET /api/v1/cas/{pk}/private-key", "DELETE /api/v1/cas/{pk}",
        "POST /api/v1/certificates/{pk}/revoke", "POST /api/v1/certificates/{pk}/renew",
        "GET /api/v1/export/certificate/{pk}/pkcs12", "GET /api/v1/export/ca/{pk}/private-key",
        "PUT /api/v1/service-accounts/{pk}/policy", "DELETE /api/v1/service-accounts/{pk}/tokens/{token_id}",
        "POST /api/v1/service-accounts/{pk}/acme-eab", "DELETE /api/v1/service-accounts/{pk}/acme-eab/{kid}",
    } <= seen  # fmt: skip
    assert len(ROUTES) >= 30


# The object of tenant A each view's {pk} names; a new kind of object must be added here.
def _pk(view: type | None, tenant: Tenant) -> int:
    model = getattr(getattr(view, "queryset", None), "model", None)
    objects = {
        User: tenant.admin, Organization: tenant.org, CertificateAuthority: tenant.ca, Certificate: tenant.cert,
        ServiceAccount: tenant.account,
    }  # fmt: skip
    assert model in objects, f"{view}: the sweep does not know which object of tenant A its id names"
    return objects[model].pk


# A body that would do harm if the request were allowed (else an empty one).
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", "users"): {"email": "pwned@example.com", "can_export_private_key": True},
    ("put", "users"): {"email": "pwned@example.com"},
    ("put", "organizations"): {"name": "pwned", "description": "pwned"},
    ("patch", "organizations"): {"name": "pwned"},
    ("post", "revoke"): {"reason": "key_compromise"},
    ("patch", "service-accounts"): {"name": "pwned", "can_export_private_key": True},
    ("post", "tokens"): {"name": "pwned"},
    ("put", "policy"): {"cn_patterns": ["*"], "san_dns_patterns": ["*"], "allowed_certificate_types": ["server"],
                        "max_validity_days": 36500},
}  # fmt: skip


def _body(method: str, path: str) -> dict[str, Any]:
    parts = [p for p in path.strip("/").split("/") if not p.isdigit()]
    for part in reversed(parts):
        if (method, part) in BODIES:
            return BODIES[(method, part)]
    return {}


# Documented exceptions to "403": (method, route, caller) -> (status, reason). The caller still
# changes nothing; the answer may show the object, since that is the point of the exception.
EXCEPTIONS: dict[tuple[str, str, str], tuple[int, str]] = {
    ("GET", "/api/v1/users/{pk}", "admin"): (
        200,
        "seed/users-api.txt (wins over SPEC): 'Admins and superusers can view any user'; README, "
        "Behaviour choices. Users and service accounts of another organization still get 403.",
    ),
}


def secrets_of(tenant: Tenant) -> list[str]:
    """Strings only someone allowed to see tenant A's objects could put in an answer."""
    pem_line = tenant.cert.certificate.splitlines()[5]
    ca_line = tenant.ca.certificate.splitlines()[5]
    return [
        tenant.ca.name, tenant.ca.serial_number, ca_line, tenant.child_ca.name, tenant.cert.common_name,
        tenant.cert.serial_number, pem_line, tenant.account.name, tenant.account_token.public_id, "PRIVATE KEY",
        tenant.member.email, tenant.admin.email,
    ]  # fmt: skip


SNAPSHOT_MODELS = [User, AuthSession, Organization, CertificateAuthority, Certificate, RevocationList,
                   ServiceAccount, ServiceAccountToken, IssuancePolicy, EabCredential]  # fmt: skip


def snapshot() -> dict[str, list[dict[str, Any]]]:
    rows = {}
    for model in SNAPSHOT_MODELS:
        values = [
            model_to_dict(obj, fields=[f.name for f in model._meta.concrete_fields])
            for obj in model.objects.order_by("pk")
        ]
        if model is ServiceAccountToken:  # the caller's own token records its use; nothing else may change
            for row in values:
                row.pop("last_used_at")
        rows[model.__name__] = values
    return rows


@pytest.fixture
def callers(tenant_b) -> dict[str, tuple[Any, Any]]:
    """Another organization's user (every flag), admin and service account (every flag)."""
    return {
        "user": (jwt_client(tenant_b.member), tenant_b.member),
        "admin": (jwt_client(tenant_b.admin), tenant_b.admin),
        "service-account": (token_client(tenant_b.account_plaintext), tenant_b.account),
    }


def _path(regex: str, values: dict[str, int]) -> str:
    return "/" + _GROUP.sub(lambda m: str(values[m["name"]]), regex).replace("/?", "/")


def _user_id_targets(regex: str) -> list[str]:
    return ["victim", "self"] if "(?P<user_id>" in regex else ["-"]


SWEEP = [
    pytest.param(
        route,
        caller,
        user_target,
        id=f"{_route_id(route)} as {caller}{'' if user_target == '-' else ' user=' + user_target}",
    )
    for route in ROUTES
    for caller in ("user", "admin", "service-account")
    for user_target in _user_id_targets(route[0])
]


@pytest.mark.parametrize(("route", "caller", "user_target"), SWEEP)
def test_another_organization_gets_403_no_data_and_changes_nothing(tenant_a, callers, route, caller, user_target):
    regex, method, _action, view = route
    client, who = callers[caller]
    values = {
        "pk": _pk(view, tenant_a),
        "token_id": tenant_a.account_token.pk,
        "kid": tenant_a.account_eab_kid,
        # A victim of tenant A to remove, or the caller pulling itself into tenant A.
        "user_id": who.pk if user_target == "self" and isinstance(who, User) else tenant_a.member.pk,
    }
    path = _path(regex, values)
    before = snapshot()

    response = getattr(client, method)(path, _body(method, path), format="json")

    method_name, route_path = _route_id(route).split(" ", 1)
    exception = EXCEPTIONS.get((method_name, route_path, caller))
    if exception is not None:
        assert response.status_code == exception[0], response.content
    else:
        assert response.status_code == 403, (
            f"{method.upper()} {path} as {caller}: {response.status_code} {response.content[:300]!r}"
        )
        text = response_text(response)
        leaked = [secret for secret in secrets_of(tenant_a) if secret in text]
        assert not leaked, f"{method.upper()} {path} as {caller} leaks {leaked}"
    assert snapshot() == before, f"{method.upper()} {path} as {caller} changed the database"


# --- ids inside bodies and query strings -------------------------------------------------------

LEAF = {"common_name": "x.example.com", "subject_dn": "CN=x.example.com", "certificate_type": "server",
        "key_algorithm": "ecdsa", "key_size": 256}  # fmt: skip
DENIED = {"user": {403}, "admin": {403}, "service-account": {403}}
# (method, path, body, {caller: allowed statuses}): {ca}, {child_ca}, {child_ca_name}, {org} are tenant A's,
# {own_account} is the caller's organization's service account. Lists answer 200 but show nothing of A.
REFERENCES: dict[str, tuple[str, str, Any, dict[str, set[int]]]] = {
    "issue-under-foreign-ca": ("post", "/api/v1/certificates/?ca_id={child_ca}", LEAF, DENIED),
    "sign-csr-foreign-ca-id": ("post", "/api/v1/certificates/sign-csr", {"csr": "{csr}", "ca_id": "{child_ca}"}, DENIED),
    # A CA name is looked up in the caller's own organization: another organization's CA is not there.
    "sign-csr-foreign-ca-name": (
        "post", "/api/v1/certificates/sign-csr", {"csr": "{csr}", "ca_name": "{child_ca_name}"},
        {"user": {404}, "admin": {404}, "service-account": {404}},
    ),
    "child-of-foreign-ca": (
        "post", "/api/v1/cas/",
        {"name": "Mine", "subject_dn": "CN=Mine", "parent_ca_id": "{ca}", "key_algorithm": "ecdsa", "key_size": 256},
        DENIED,
    ),
    "user-into-foreign-org": (
        "post", "/api/v1/users/",
        {"username": "mole", "email": "mole@example.com", "password": "a-long-password-1", "organization_id": "{org}"},
        DENIED,
    ),
    "robot-into-foreign-org": ("post", "/api/v1/service-accounts/", {"name": "mole", "organization_id": "{org}"}, DENIED),
    "policy-naming-foreign-ca": (
        "put", "/api/v1/service-accounts/{own_account}/policy",
        {"allowed_ca_ids": ["{ca}"], "allowed_certificate_types": ["server"], "max_validity_days": 30},
        {"user": {403}, "admin": {400}, "service-account": {403}},
    ),
    "certificates-filtered-by-foreign-ca": (
        "get", "/api/v1/certificates/?ca_id={ca}", None, {"user": {200}, "admin": {200}, "service-account": {200}},
    ),
    "audit-filtered-by-foreign-ca": (
        "get", "/api/v1/audit-logs/?resource_type=ca&resource_id={ca}", None,
        {"user": {403}, "admin": {200}, "service-account": {403}},
    ),
}  # fmt: skip


def _fill(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in values:
        return values[value[1:-1]]  # a whole placeholder keeps its type (an id stays an int)
    return value.format(**values) if isinstance(value, str) else value


@pytest.fixture
def csr_pem() -> str:
    from certificates.x509 import KeySpec, build_csr, csr_to_pem, generate_private_key, parse_subject

    return csr_to_pem(
        build_csr(key=generate_private_key(KeySpec("ecdsa", 256)), subject=parse_subject("CN=x.example.com"))
    )


@pytest.mark.parametrize("caller", ["user", "admin", "service-account"])
@pytest.mark.parametrize(("method", "path", "body", "expected"), REFERENCES.values(), ids=REFERENCES.keys())
def test_ids_of_another_organization_in_bodies_and_queries(
    tenant_a, tenant_b, callers, csr_pem, caller, method, path, body, expected
):
    client, _who = callers[caller]
    values = {
        "ca": tenant_a.ca.pk, "child_ca": tenant_a.child_ca.pk, "child_ca_name": tenant_a.child_ca.name,
        "org": tenant_a.org.pk, "own_account": tenant_b.account.pk, "csr": csr_pem,
    }  # fmt: skip
    before = snapshot()

    sent = (_fill(path, values), _fill(body, values))
    response = getattr(client, method)(*sent, format="json")

    assert response.status_code in expected[caller], f"{caller}: {response.status_code} {response.content[:300]!r}"
    if response.status_code == 200:
        assert response.json() == []
    # An answer may repeat what the caller sent (a CA name it asked for), nothing else of tenant A.
    leaked = [s for s in secrets_of(tenant_a) if s in response_text(response) and s not in repr(sent)]
    assert not leaked, f"{caller} sees {leaked}"
    assert snapshot() == before
