"""Audit entries are append-only and commit together with the action they record (SPEC §10)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import transaction

from accounts.models import User
from accounts.services import user_create, user_update
from audit.models import AppendOnlyError, AuditAction, AuditLog
from audit.services import audit_record
from orgs.models import Organization
from orgs.services import (
    organization_add_user,
    organization_create,
    organization_delete,
    organization_remove_user,
    organization_update,
)
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(superuser) -> AuditLog:
    return audit_record(action=AuditAction.USER_CREATE, actor=superuser, resource_type="user", detail="original")


def unchanged(entry: AuditLog) -> bool:
    stored = AuditLog.objects.get(pk=entry.pk)
    return (stored.action, stored.detail) == ("user_create", "original")


# --- the ORM refuses ----------------------------------------------------------------------


def test_saving_an_existing_entry_raises(entry):
    entry.detail = "rewritten"

    with pytest.raises(AppendOnlyError):
        entry.save()
    assert unchanged(entry)


def test_saving_a_fetched_entry_raises(entry):
    fetched = AuditLog.objects.get(pk=entry.pk)
    fetched.detail = "rewritten"

    with pytest.raises(AppendOnlyError):
        fetched.save(update_fields=["detail"])
    assert unchanged(entry)


def test_deleting_an_entry_raises(entry):
    with pytest.raises(AppendOnlyError):
        entry.delete()
    assert AuditLog.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize(
    "write",
    [
        lambda qs: qs.update(detail="rewritten"),
        lambda qs: qs.delete(),
        lambda qs: qs.all().update(detail="rewritten"),
        lambda qs: qs.all().delete(),
        lambda qs: AuditLog.objects.bulk_update([AuditLog(pk=qs.get().pk, detail="x")], ["detail"]),
    ],
    ids=["filter-update", "filter-delete", "all-update", "all-delete", "bulk-update"],
)
def test_queryset_writes_raise(entry, write):
    with pytest.raises(AppendOnlyError), transaction.atomic():
        write(AuditLog.objects.filter(pk=entry.pk))
    assert unchanged(entry)


def test_manager_writes_raise(entry):
    with pytest.raises(AppendOnlyError):
        AuditLog.objects.update(detail="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditLog.objects.all().delete()
    assert unchanged(entry)


# --- no API route writes ------------------------------------------------------------------

WRITES = [
    (method, path)
    for path in ("/api/v1/audit-logs/", "/api/v1/audit-logs", "/api/v1/audit-logs/1", "/api/v1/audit-logs/1/")
    for method in ("post", "put", "patch", "delete")
]


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m}-{p}" for m, p in WRITES])
def test_no_api_route_writes_an_entry(client_for, superuser, entry, method, path):
    path = path.replace("/1", f"/{entry.pk}")

    response = getattr(client_for(superuser), method)(path, {"detail": "rewritten", "action": "user_delete"})

    assert response.status_code in (404, 405), response.content
    assert "detail" in response.json()
    assert unchanged(entry)
    assert AuditLog.objects.count() == 1


def test_deleting_a_user_keeps_their_entries(client_for, superuser, org_a):
    doomed = UserFactory(username="doomed", organization=org_a)
    audit_record(action=AuditAction.LOGIN_SUCCESS, actor=doomed, organization_id=org_a.pk)
    audit_record(action=AuditAction.ORG_REMOVE_USER, actor=superuser, resource_type="user", resource_id=doomed.pk)

    response = client_for(superuser).delete(f"/api/v1/users/{doomed.pk}")

    assert response.status_code == 204, response.content
    assert not User.objects.filter(pk=doomed.pk).exists()
    assert AuditLog.objects.filter(user_id=doomed.pk, username="doomed", action="login_success").exists()
    assert AuditLog.objects.filter(resource_id=doomed.pk, action="org_remove_user").exists()
    assert AuditLog.objects.filter(resource_id=doomed.pk, action="user_delete").exists()


# --- an action and its entry commit together ----------------------------------------------


class AuditDown(Exception):
    pass


def _fail(*args, **kwargs):
    raise AuditDown("audit store unavailable")


@pytest.fixture
def audit_fails(monkeypatch):
    monkeypatch.setattr(AuditLog, "save", _fail)


def test_organization_create_leaves_nothing_when_its_entry_fails(superuser, audit_fails):
    with pytest.raises(AuditDown):
        organization_create(actor=superuser, name="Ghost")

    assert not Organization.objects.filter(name="Ghost").exists()


def test_organization_create_over_http_leaves_nothing_when_its_entry_fails(client_for, superuser, audit_fails):
    client = client_for(superuser)
    client.raise_request_exception = False

    response = client.post("/api/v1/organizations/", {"name": "Ghost"})

    assert response.status_code == 500
    assert not Organization.objects.filter(name="Ghost").exists()


def _org_unchanged(org: Organization) -> bool:
    return Organization.objects.filter(pk=org.pk, name=org.name, description=org.description).exists()


# (service call, check that nothing it wrote survived)
ROLLED_BACK = [
    (
        "organization_update",
        lambda p: organization_update(actor=p.superuser, org=p.org_a, data={"name": "Renamed"}),
        lambda p: _org_unchanged(p.org_a),
    ),
    (
        "organization_delete",
        lambda p: organization_delete(actor=p.superuser, org=p.empty),
        lambda p: Organization.objects.filter(pk=p.empty.pk).exists(),
    ),
    (
        "organization_add_user",
        lambda p: organization_add_user(actor=p.admin_a, org=p.org_a, user=p.loner),
        lambda p: User.objects.get(pk=p.loner.pk).organization_id is None,
    ),
    (
        "organization_remove_user",
        lambda p: organization_remove_user(actor=p.admin_a, org=p.org_a, user=p.user_a),
        lambda p: User.objects.get(pk=p.user_a.pk).organization_id == p.org_a.pk,
    ),
    (
        "user_create",
        lambda p: user_create(actor=p.superuser, username="ghost", email="ghost@example.com", password="a-long-pass-9"),
        lambda p: not User.objects.filter(username="ghost").exists(),
    ),
    (
        "user_update",
        lambda p: user_update(actor=p.superuser, user=p.user_a, data={"can_create_ca": True}),
        lambda p: not User.objects.get(pk=p.user_a.pk).can_create_ca,
    ),
]


@pytest.mark.parametrize(("name", "call", "intact"), ROLLED_BACK, ids=[n for n, _, _ in ROLLED_BACK])
def test_other_audited_writes_roll_back_when_their_entry_fails(superuser, admin_a, user_a, org_a, name, call, intact):
    people = SimpleNamespace(
        superuser=superuser,
        admin_a=admin_a,
        user_a=user_a,
        org_a=org_a,
        empty=OrganizationFactory(name="Empty"),
        loner=UserFactory(username="loner"),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AuditLog, "save", _fail)
        with pytest.raises(AuditDown):
            call(people)

    assert intact(people)
