"""The audit log in the admin console: filters, the reader's organization only, read-only (SPEC §10, §14)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction, AuditLog
from audit.services import audit_record

CHANGELIST = reverse("admin:audit_auditlog_changelist")


def console(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def entries(admin_a, user_a, admin_b, org_a, org_b) -> dict[str, AuditLog]:
    def record(actor: User, action: AuditAction, resource_type: str, resource_id: int, detail: str) -> AuditLog:
        return audit_record(
            action=action, actor=actor, organization_id=actor.organization_id, resource_type=resource_type,
            resource_id=resource_id, detail=detail,
        )  # fmt: skip

    return {
        "a_ca": record(admin_a, AuditAction.CA_CREATE, "ca", 41, "created root CA Alpha"),
        "a_cert": record(user_a, AuditAction.CERT_CREATE, "certificate", 42, "server certificate alpha.test"),
        "a_revoke": record(admin_a, AuditAction.CERT_REVOKE, "certificate", 42, "revoked alpha.test"),
        "b_ca": record(admin_b, AuditAction.CA_CREATE, "ca", 43, "created root CA Bravo"),
    }


def shown(client: Client, query: str = "") -> set[str]:
    body = client.get(CHANGELIST + query).content.decode()
    table = body[body.index('id="result_list"') :] if 'id="result_list"' in body else ""
    return {word for word in ("Alpha", "alpha.test", "revoked alpha", "Bravo") if word in table}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"Alpha", "alpha.test", "revoked alpha"}),
        ("?action__exact=cert_revoke", {"alpha.test", "revoked alpha"}),
        ("?username=carol", {"alpha.test"}),
        ("?resource_type=ca", {"Alpha"}),
        ("?q=42", {"alpha.test", "revoked alpha"}),
        ("?q=Bravo", set()),  # another organization's, even by search
        ("?username=bob_admin", set()),
    ],
)
def test_an_admin_filters_their_organizations_entries(admin_a, entries, query: str, expected: set[str]) -> None:
    assert shown(console(admin_a), query) == expected


def test_a_superuser_sees_every_organization(superuser, entries) -> None:
    assert shown(console(superuser)) == {"Alpha", "alpha.test", "revoked alpha", "Bravo"}


def test_the_user_filter_names_only_people_of_the_readers_organization(admin_a, entries) -> None:
    body = console(admin_a).get(CHANGELIST).content.decode()

    assert "?username=carol" in body and "?username=alice_admin" in body
    assert "bob_admin" not in body


def test_dates_drill_down(admin_a, entries) -> None:
    today = timezone.now()
    client = console(admin_a)

    this_year = client.get(CHANGELIST + f"?created_at__year={today.year}").content.decode()
    last_year = shown(client, f"?created_at__year={today.year - 1}")

    assert str(today.year) in this_year and "Alpha" in this_year
    assert last_year == set()


@pytest.mark.parametrize("persona", ["superuser", "admin_a"])
def test_no_one_adds_changes_or_deletes_an_entry(request, entries, persona: str) -> None:
    client = console(request.getfixturevalue(persona))
    entry = entries["a_ca"]
    change = reverse("admin:audit_auditlog_change", args=[entry.pk])

    assert client.get(reverse("admin:audit_auditlog_add")).status_code == 403
    assert client.post(change, {"detail": "rewritten"}).status_code == 403
    assert client.post(reverse("admin:audit_auditlog_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert 'name="detail"' not in client.get(change).content.decode()
    assert AuditLog.objects.get(pk=entry.pk).detail == "created root CA Alpha"
