"""Organizations in the admin console: counts, members, saves through orgs.services (SPEC §4, §14)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from audit.models import AuditAction, AuditLog
from certificates.tests.conftest import create_ca, issue_certificate
from orgs.models import Organization
from tests.factories import OrganizationFactory, UserFactory

CHANGELIST = reverse("admin:orgs_organization_changelist")


def console(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_url(org: Organization) -> str:
    return reverse("admin:orgs_organization_change", args=[org.pk])


@pytest.fixture
def busy_org_a(admin_a, user_a, org_a) -> Organization:
    """Org A: two members, two CAs, three certificates."""
    root = create_ca(admin_a, "Root A")
    inter = create_ca(admin_a, "Issuing A", parent=root)
    for name in ("one.example.com", "two.example.com", "three.example.com"):
        issue_certificate(admin_a, inter, name)
    return org_a


def row_of(body: str, name: str) -> list[str]:
    """The cells of the list row whose link text is `name`."""
    table = body[body.index('id="result_list"') :]
    row = re.search(rf"<tr>(?:(?!</tr>).)*?>{re.escape(name)}</a>.*?</tr>", table, re.S)
    assert row, name
    return [
        re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row.group(0), re.S)
    ]


def test_the_list_counts_members_cas_and_certificates(superuser, busy_org_a, org_b) -> None:
    body = console(superuser).get(CHANGELIST).content.decode()

    assert row_of(body, "Org A")[2:5] == ["2", "2", "3"]
    assert row_of(body, "Org B")[2:5] == ["0", "0", "0"]


def test_the_list_costs_the_same_queries_however_many_organizations(superuser, busy_org_a) -> None:
    client = console(superuser)
    client.get(CHANGELIST)  # warm up: session, content types

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(CHANGELIST).status_code == 200
        return len(captured)

    few = queries()
    for i in range(5):
        org = OrganizationFactory(name=f"More {i}")
        UserFactory(username=f"member{i}", organization=org)
    assert queries() == few


def test_the_change_page_lists_members_read_only(admin_a, user_a, busy_org_a) -> None:
    body = console(admin_a).get(change_url(busy_org_a)).content.decode()

    assert "carol" in body and "alice_admin" in body
    assert reverse("admin:accounts_user_change", args=[user_a.pk]) in body  # each member's own page
    assert 'name="users-0-username"' not in body and 'name="users-0-role"' not in body


def test_an_admin_renames_their_organization_through_the_service(admin_a, org_a) -> None:
    response = console(admin_a).post(change_url(org_a), {"name": "Org A Renamed", "description": "x", **no_members()})

    assert response.status_code == 302
    assert Organization.objects.get(pk=org_a.pk).name == "Org A Renamed"
    assert AuditLog.objects.get(action=AuditAction.ORG_UPDATE).username == "alice_admin"


def no_members() -> dict[str, str]:
    """The (read-only) members inline's management form."""
    return {
        "users-TOTAL_FORMS": "0",
        "users-INITIAL_FORMS": "0",
        "users-MIN_NUM_FORMS": "0",
        "users-MAX_NUM_FORMS": "0",
    }


def test_a_duplicate_name_is_a_form_error(superuser, org_a, org_b) -> None:
    response = console(superuser).post(change_url(org_b), {"name": "org a", "description": "", **no_members()})

    assert response.status_code == 200
    assert "An organization named &#x27;org a&#x27; already exists." in response.content.decode()
    assert Organization.objects.get(pk=org_b.pk).name == "Org B"


def test_adding_an_organization_is_audited(superuser) -> None:
    response = console(superuser).post(reverse("admin:orgs_organization_add"), {"name": "Org C", "description": "new"})

    assert response.status_code == 302
    org = Organization.objects.get(name="Org C")
    assert AuditLog.objects.get(action=AuditAction.ORG_CREATE).resource_id == org.pk


@pytest.mark.parametrize(("persona", "status"), [("admin_a", 403), ("superuser", 302)])
def test_only_superusers_delete_an_empty_organization(request, org_a, persona: str, status: int) -> None:
    empty = OrganizationFactory(name="Empty")
    actor = request.getfixturevalue(persona)
    if persona == "admin_a":
        empty = org_a  # an admin sees only their own, and still may not delete it
        User.objects.filter(organization=org_a).exclude(pk=actor.pk).delete()

    response = console(actor).post(reverse("admin:orgs_organization_delete", args=[empty.pk]), {"post": "yes"})

    assert response.status_code == status
    assert Organization.objects.filter(pk=empty.pk).exists() is (status == 403)
