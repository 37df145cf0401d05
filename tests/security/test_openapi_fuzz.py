"""schemathesis over /api/v1/openapi.json: as a superuser and as a user, no 5xx and answers that match the schema."""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from accounts.models import User
from accounts.tokens import session_start
from certificates import x509 as pki
from tests.security import private_key_watch as watch

pytestmark = pytest.mark.security

# Bounded: a few examples per operation keeps the whole run to about a minute. Writes that make
# keys or hash passwords get fewer. PKISERVER_FUZZ_EXAMPLES raises the count for a long run.
EXAMPLES = int(os.environ.get("PKISERVER_FUZZ_EXAMPLES", "12"))
SLOW_WRITES = [
    ("POST", "/api/v1/cas/"),
    ("POST", "/api/v1/certificates/"),
    ("POST", "/api/v1/certificates/sign-csr/"),
    ("POST", "/api/v1/certificates/{id}/renew/"),
    ("POST", "/api/v1/users/"),
    ("PUT", "/api/v1/users/{id}/"),
    ("PATCH", "/api/v1/users/{id}/"),
    ("POST", "/api/v1/auth/token/"),
]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": int(os.environ.get("PKISERVER_FUZZ_SEED", "5280")),
        "generation": {"max-examples": EXAMPLES, "database": "none"},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "operations": [
            {"include-method": method, "include-path": path, "generation": {"max-examples": max(3, EXAMPLES // 3)}}
            for method, path in SLOW_WRITES
        ],
    }
)
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
]

# The bare Django handler: pkiserver.wsgi also runs the start-up checks, which need the database.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application(), config=CONFIG)

CASES: Counter[str] = Counter()  # generated cases per operation
TRIED: Counter[str] = Counter()  # requests made per operation and caller
KEYS_MADE: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_figures():
    yield
    if CASES:
        watch.figures.append(
            f"schemathesis: {len(CASES)} operations, {sum(CASES.values())} generated cases, "
            f"{sum(TRIED.values())} requests (as superuser and as user, generated and seeded ids); "
            f"keys generated: {dict(KEYS_MADE) or 'none'}"
        )


@pytest.fixture(autouse=True)
def _in_test_transaction():
    # As django.test.Client does: the WSGI handler's signals must not close the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(settings, monkeypatch, tenant_a) -> Any:
    """Tenant A's objects for the seeded ids; every key the server makes is counted and bounded."""
    settings.CA_KEY_SIZE = 2048  # a CA created with the default size must not cost an RSA-4096 key
    settings.CERT_KEY_SIZE = 2048
    real = pki.generate_private_key

    def counting(spec: pki.KeySpec) -> Any:
        KEYS_MADE[str(spec)] += 1
        assert spec.algorithm != "rsa" or (spec.size or 0) <= 4096
        return real(spec)

    monkeypatch.setattr(pki, "generate_private_key", counting)
    return tenant_a


def _seeded(case: Any, tenant: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The case's path and query with every id pointing at one of tenant A's real objects."""
    ids = {
        "users": tenant.admin.pk,
        "organizations": tenant.org.pk,
        "cas": tenant.child_ca.pk,
        "ca": tenant.child_ca.pk,
        "certificates": tenant.cert.pk,
        "certificate": tenant.cert.pk,
        "service-accounts": tenant.account.pk,
    }
    resource = re.match(r"/api/v1/(?:export/)?([a-z-]+)/", case.operation.path)[1]
    values = {
        "id": ids.get(resource), "user_id": tenant.member.pk, "token_id": tenant.account_token.pk,
        "kid": tenant.account_eab_kid,
    }  # fmt: skip
    path = {name: values[name] for name in re.findall(r"{(\w+)}", case.operation.path)} or None
    query = dict(case.query or {})
    if "ca_id" in query:
        query["ca_id"] = tenant.child_ca.pk
    return path, query or None


@schema.parametrize()
@hypothesis_settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api(case, fuzz_world, superuser):
    operation = f"{case.operation.method.upper()} {case.operation.path}"
    CASES[operation] += 1
    # As generated (ids mostly of missing objects), then with the ids of real objects.
    variants = [(case.path_parameters, case.query)]
    seeded = _seeded(case, fuzz_world)
    if seeded != variants[0]:
        variants.append(seeded)
    for who, user in (("superuser", superuser), ("user", fuzz_world.member)):
        if not User.objects.filter(pk=user.pk, is_active=True).exists():
            continue  # the superuser deleted or deactivated the member in an earlier call
        for path_parameters, query in variants:
            case.path_parameters, case.query = path_parameters, query
            token = session_start(user=user).access_token  # fresh: an earlier call may have logged out
            TRIED[f"{operation} {who}"] += 1
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
