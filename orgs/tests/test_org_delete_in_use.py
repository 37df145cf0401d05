"""Deleting an organization that still owns CAs, certificates or service accounts (SPEC §4): 409
naming what is left, nothing deleted, nothing audited. Users left are still a 400, checked first."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from certificates.models import Certificate, CertificateAuthority
from certificates.tests.conftest import create_ca, issue_certificate
from orgs.models import Organization
from serviceaccounts import services as sa_services
from serviceaccounts.models import ServiceAccount
from tests.factories import OrganizationFactory


def _leave(org: Organization) -> None:
    """The organization's people go; what they made stays (so only objects are left)."""
    org.users.update(organization=None)


def _ca_only(admin, superuser, org):
    create_ca(admin, "Root A")


def _ca_and_certificate(admin, superuser, org):
    issue_certificate(admin, create_ca(admin, "Root A"))


def _service_account_only(admin, superuser, org):
    sa_services.service_account_create(actor=superuser, name="robot", organization_id=org.pk)


def _everything(admin, superuser, org):
    _ca_and_certificate(admin, superuser, org)
    _service_account_only(admin, superuser, org)


LEFT = {
    "a-ca": (_ca_only, "still has 1 CA(s); delete them first."),
    "a-ca-and-its-certificate": (_ca_and_certificate, "still has 1 CA(s) and 1 certificate(s); delete them first."),
    "a-service-account": (_service_account_only, "still has 1 service account(s); delete them first."),
    "all-three": (_everything, "still has 1 CA(s), 1 certificate(s) and 1 service account(s); delete them first."),
}


@pytest.mark.parametrize(("make", "message"), LEFT.values(), ids=LEFT.keys())
def test_an_organization_with_objects_left_is_409_naming_them(client_for, superuser, admin_a, org_a, make, message):
    make(admin_a, superuser, org_a)
    _leave(org_a)
    counts = (CertificateAuthority.objects.count(), Certificate.objects.count(), ServiceAccount.objects.count())

    response = client_for(superuser).delete(f"/api/v1/organizations/{org_a.pk}")

    assert response.status_code == 409, response.content
    assert response.json() == {"detail": f"Organization 'Org A' {message}", "code": "organization_in_use"}
    assert Organization.objects.filter(pk=org_a.pk).exists()
    assert (CertificateAuthority.objects.count(), Certificate.objects.count(), ServiceAccount.objects.count()) == counts
    assert not AuditLog.objects.filter(action="org_delete").exists()


def test_users_left_are_still_400_and_named_first(client_for, superuser, admin_a, org_a):
    create_ca(admin_a, "Root A")

    response = client_for(superuser).delete(f"/api/v1/organizations/{org_a.pk}")

    assert response.status_code == 400
    assert response.json()["code"] == "organization_not_empty"
    assert "1 user(s)" in response.json()["detail"]


def test_once_everything_is_gone_the_delete_goes_through(client_for, superuser, admin_a, org_a):
    ca = create_ca(admin_a, "Root A")
    _leave(org_a)
    client = client_for(superuser)
    assert client.delete(f"/api/v1/organizations/{org_a.pk}").status_code == 409

    assert client.delete(f"/api/v1/cas/{ca.pk}").status_code == 204
    response = client.delete(f"/api/v1/organizations/{org_a.pk}")

    assert response.status_code == 204, response.content
    assert not Organization.objects.filter(pk=org_a.pk).exists()


def test_another_organizations_objects_do_not_count(client_for, superuser, admin_a, org_a):
    create_ca(admin_a, "Root A")
    empty = OrganizationFactory(name="Empty")

    response = client_for(superuser).delete(f"/api/v1/organizations/{empty.pk}")

    assert response.status_code == 204
