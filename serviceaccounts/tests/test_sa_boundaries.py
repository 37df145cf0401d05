"""What a service account may reach: like a `user` of its organization, never people or accounts."""

from __future__ import annotations

import pytest

from accounts.models import AuthSession
from audit.models import AuditLog
from certificates.models import Certificate
from orgs.models import Organization
from serviceaccounts.models import ServiceAccount, ServiceAccountToken
from serviceaccounts.tests.conftest import API, make_account, token_client

EVERY_FLAG = {
    "can_create_ca": True, "can_create_cert": True, "can_revoke_cert": True, "can_export_private_key": True,
    "can_delete_ca": True,
}  # fmt: skip

# (method, path, body): management routes a service account never reaches, even with every flag.
HUMAN_ONLY = [
    ("get", "users/", None),
    ("post", "users/", {"username": "sneaky", "email": "s@example.com", "password": "a-long-pass-9"}),
    ("get", "users/me", None),
    ("get", "users/{admin}", None),
    ("patch", "users/{admin}", {"email": "x@example.com"}),
    ("get", "organizations/", None),
    ("post", "organizations/", {"name": "Evil Corp"}),
    ("get", "organizations/{org}", None),
    ("put", "organizations/{org}", {"name": "Renamed"}),
    ("get", "organizations/{org}/users", None),
    ("post", "organizations/{org}/users/{admin}", None),
    ("get", "service-accounts/", None),
    ("post", "service-accounts/", {"name": "child"}),
    ("get", "service-accounts/{self}", None),
    ("patch", "service-accounts/{self}", {"can_create_ca": True}),
    ("delete", "service-accounts/{self}", None),
    ("post", "service-accounts/{self}/tokens", {}),
    ("get", "service-accounts/{self}/tokens", None),
    ("put", "service-accounts/{self}/policy", {"max_validity_days": 1}),
    ("get", "audit-logs/", None),
    ("post", "auth/logout", None),
    ("post", "auth/invalidate", None),
]


@pytest.mark.parametrize(("method", "path", "body"), HUMAN_ONLY, ids=[f"{m}-{p}" for m, p, _ in HUMAN_ONLY])
def test_a_service_account_cannot_reach_management(org_a, admin_a, method, path, body):
    account = make_account(org_a, "robot", **EVERY_FLAG)
    client = token_client(account)
    url = f"{API}/" + path.format(admin=admin_a.pk, org=org_a.pk, self=account.pk)
    before = (Organization.objects.count(), ServiceAccount.objects.count(), ServiceAccountToken.objects.count())

    response = getattr(client, method)(url, body)

    assert response.status_code == 403, response.content
    assert (Organization.objects.count(), ServiceAccount.objects.count(), ServiceAccountToken.objects.count()) == before
    account.refresh_from_db()
    assert account.can_create_ca and Organization.objects.get(pk=org_a.pk).name == "Org A"


def test_logout_is_refused_with_a_pointer_to_token_revocation(org_a):
    client = token_client(make_account(org_a))

    response = client.post(f"{API}/auth/logout")

    assert response.status_code == 403
    assert "revoke its token" in response.json()["detail"]
    assert client.get(f"{API}/cas/").status_code == 200  # the token is untouched
    assert not AuthSession.objects.exists()


# (flag the account holds or not) -> what it may do in its organization
@pytest.mark.parametrize("capable", [True, False], ids=["flags", "no-flags"])
def test_it_acts_like_a_user_of_its_organization(org_a, root_a, capable):
    account = make_account(org_a, "robot", **(EVERY_FLAG if capable else {}))
    client = token_client(account)
    cert = Certificate.objects.create(
        common_name="x", subject_dn="CN=x", certificate_type="server", key_size=256, valid_days=1,
        certificate="-", serial_number="1", not_before=root_a.not_before, not_after=root_a.not_after,
        issuer=root_a, organization_id=org_a.pk,
    )  # fmt: skip

    read = client.get(f"{API}/cas/{root_a.pk}")
    new_ca = client.post(
        f"{API}/cas/", {"name": "Robot CA", "subject_dn": "CN=Robot CA", "key_algorithm": "ecdsa", "key_size": 256}
    )
    key = client.get(f"{API}/cas/{root_a.pk}/private-key")
    revoke = client.post(f"{API}/certificates/{cert.pk}/revoke", {"reason": "superseded"})

    assert read.status_code == 200
    assert (new_ca.status_code, key.status_code, revoke.status_code) == ((201, 200, 200) if capable else (403,) * 3)
    if capable:
        assert new_ca.json()["created_by_user_id"] is None
        assert new_ca.json()["organization_id"] == org_a.pk
        entries = AuditLog.objects.filter(username="sa:robot")
        assert sorted((e.action, e.user_id) for e in entries) == [
            ("ca_create", None),
            ("ca_export_private_key", None),
            ("cert_revoke", None),
        ]


def test_another_organizations_objects_are_403(org_a, root_b):
    client = token_client(make_account(org_a, "robot", **EVERY_FLAG))

    assert client.get(f"{API}/cas/{root_b.pk}").status_code == 403
    assert client.get(f"{API}/cas/").json() == []
