"""Every list endpoint costs the same number of queries with a few rows and with many (SPEC §1)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from certificates.models import Certificate, CertificateAuthority
from certificates.tests.conftest import create_ca, issue_certificate
from serviceaccounts import services as sa_services
from serviceaccounts.models import ServiceAccount
from tests.factories import OrganizationFactory, UserFactory

API = "/api/v1"
GROWTH = 12  # rows added between the two requests (per kind, for certificates)


@dataclass
class World:
    superuser: Any
    admin: Any
    org: Any
    root: CertificateAuthority
    parent: CertificateAuthority
    template: Certificate
    account: ServiceAccount


@pytest.fixture
def world(superuser, admin_a, org_a) -> World:
    root = create_ca(admin_a, "Counting Root")
    parent = create_ca(admin_a, "Counting Parent", allow_leaf_certs=True)
    template = issue_certificate(admin_a, root, "template.example.com")
    account = ServiceAccount.objects.create(name="counting", organization=org_a)
    return World(superuser, admin_a, org_a, root, parent, template, account)


def _certificates(world: World, count: int) -> None:
    """`count` certificates of each kind (valid, expiring soon, expired, revoked) under the root."""
    now = timezone.now()
    kinds = {
        "valid": {},
        "expiring": {"not_after": now + timedelta(days=5)},
        "expired": {"not_before": now - timedelta(days=60), "not_after": now - timedelta(days=1)},
        "revoked": {"revoked_at": now, "revocation_reason": "superseded", "revocation_reason_code": 4},
    }
    rows = []
    for kind, fields in kinds.items():
        for i in range(count):
            row = Certificate.objects.get(pk=world.template.pk)
            row.pk = None
            row.serial_number = format(secrets.randbits(150) | 1 << 150, "x")
            row.common_name = f"{kind}{i}.example.com"
            for name, value in fields.items():
                setattr(row, name, value)
            rows.append(row)
    Certificate.objects.bulk_create(rows)


def _users(world: World, count: int) -> None:
    UserFactory.create_batch(count, organization=world.org)


def _organizations(world: World, count: int) -> None:
    OrganizationFactory.create_batch(count)


def _audit_entries(world: World, count: int) -> None:
    for i in range(count):
        audit_record(action=AuditAction.ORG_UPDATE, actor=world.admin, organization_id=world.org.pk, detail=f"{i}")


def _cas(world: World, count: int) -> None:
    for i in range(count):
        create_ca(world.admin, f"Counted CA {i}")


def _children(world: World, count: int) -> None:
    for i in range(count):
        create_ca(world.admin, f"Counted child {i}", parent=world.parent)


def _accounts(world: World, count: int) -> None:
    ServiceAccount.objects.bulk_create(
        ServiceAccount(name=f"counted-{i}", organization=world.org) for i in range(count)
    )


def _tokens(world: World, count: int) -> None:
    for i in range(count):
        sa_services.token_create(actor=world.superuser, account=world.account, name=f"t{i}")


@dataclass(frozen=True)
class Case:
    persona: str  # "superuser" or "admin": who lists
    path: Callable[[World], str]
    grow: Callable[[World, int], None]
    added: int  # rows the list gains when `grow` adds GROWTH of its kind
    paginated: bool = True


CERTS = f"{API}/certificates/?limit=1000"
CASES = {
    "users": Case("superuser", lambda w: f"{API}/users/?limit=1000", _users, GROWTH),
    "organizations": Case("superuser", lambda w: f"{API}/organizations/?limit=1000", _organizations, GROWTH),
    "organization members": Case("admin", lambda w: f"{API}/organizations/{w.org.pk}/users?limit=1000", _users, GROWTH),
    "audit log": Case("admin", lambda w: f"{API}/audit-logs/?limit=1000", _audit_entries, GROWTH),
    "CAs": Case("admin", lambda w: f"{API}/cas/?limit=1000", _cas, GROWTH),
    "CA children": Case("admin", lambda w: f"{API}/cas/{w.parent.pk}/children", _children, GROWTH, False),
    "certificates": Case("admin", lambda w: CERTS, _certificates, 4 * GROWTH),
    "certificates by CA": Case("admin", lambda w: f"{CERTS}&ca_id={w.root.pk}", _certificates, 4 * GROWTH),
    "certificates valid": Case("admin", lambda w: f"{CERTS}&status=valid", _certificates, 2 * GROWTH),
    "certificates revoked": Case("admin", lambda w: f"{CERTS}&status=revoked", _certificates, GROWTH),
    "certificates expired": Case("admin", lambda w: f"{CERTS}&status=expired", _certificates, GROWTH),
    "certificates expiring": Case("admin", lambda w: f"{CERTS}&expiring_within_days=30", _certificates, GROWTH),
    "certificates by CN": Case("admin", lambda w: f"{CERTS}&common_name=TEMPLATE.example.com", _certificates, 0),
    "certificates by serial": Case(
        "admin", lambda w: f"{CERTS}&serial_number={w.template.serial_number.upper()}", _certificates, 0
    ),
    "service accounts": Case("admin", lambda w: f"{API}/service-accounts/?limit=1000", _accounts, GROWTH),
    "service-account tokens": Case(
        "admin", lambda w: f"{API}/service-accounts/{w.account.pk}/tokens?limit=1000", _tokens, GROWTH
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_list_queries_do_not_grow_with_rows(world, client_for, case: Case) -> None:
    client = client_for(world.superuser if case.persona == "superuser" else world.admin)
    url = case.path(world)

    def read() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.content[:500]
        rows = response.json()
        if case.paginated:
            assert response["X-Total-Count"] == str(len(rows))
        return len(queries), len(rows)

    read()  # first-request work (content types, session) is not the list's cost
    few, few_rows = read()
    case.grow(world, GROWTH)
    many, many_rows = read()

    assert many_rows == few_rows + case.added, (few_rows, many_rows)
    assert many_rows >= 1
    assert many == few, f"{few} queries for {few_rows} rows, {many} for {many_rows}"
