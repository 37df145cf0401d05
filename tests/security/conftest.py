"""Security-test helpers: a seeded world of two tenants, their objects, and clients for anyone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Role, User
from accounts.tokens import session_start
from acmeserver import services as acme_services
from certificates import services as pki_services
from certificates.models import Certificate, CertificateAuthority
from orgs.models import Organization
from serviceaccounts import services as sa_services
from serviceaccounts.models import ServiceAccount, ServiceAccountToken
from tests.factories import UserFactory

REQUEST_BASE = "http://testserver"
FAST_KEY = {"key_algorithm": "ecdsa", "key_size": 256}
ALL_FLAGS = {
    "can_create_ca": True,
    "can_create_cert": True,
    "can_revoke_cert": True,
    "can_export_private_key": True,
    "can_delete_ca": True,
}


@dataclass
class Tenant:
    """One organization and everything in it that an outsider must not reach."""

    org: Organization
    admin: User
    member: User  # role user, every capability flag
    ca: CertificateAuthority
    child_ca: CertificateAuthority
    cert: Certificate
    account: ServiceAccount
    account_token: ServiceAccountToken
    account_plaintext: str
    account_eab_kid: str  # an ACME external account binding of `account`


def make_tenant(label: str) -> Tenant:
    org = Organization.objects.create(name=f"Tenant {label}", description=f"tenant {label}")
    admin = UserFactory(username=f"admin_{label}", role=Role.ADMIN, organization=org)
    member = UserFactory(username=f"member_{label}", organization=org, **ALL_FLAGS)
    ca = pki_services.ca_create(
        actor=admin,
        data=pki_services.CARequest(
            name=f"Secret Root {label}", subject_dn=f"CN=Secret Root {label},O=T{label}", **FAST_KEY
        ),
        request_base=REQUEST_BASE,
    ).obj
    cert = pki_services.certificate_issue(
        actor=admin,
        ca=ca,
        data=pki_services.CertRequest(
            certificate_type="server",
            common_name=f"secret-{label}.example.com",
            subject_dn=f"CN=secret-{label}.example.com",
            **FAST_KEY,
        ),
        request_base=REQUEST_BASE,
    ).obj
    child_ca = pki_services.ca_create(
        actor=admin,
        data=pki_services.CARequest(
            name=f"Secret Issuing {label}",
            subject_dn=f"CN=Secret Issuing {label},O=T{label}",
            parent_ca_id=ca.pk,
            allow_leaf_certs=True,
            **FAST_KEY,
        ),
        request_base=REQUEST_BASE,
    ).obj
    account = sa_services.service_account_create(
        actor=admin, name=f"robot-{label}", description=f"robot of tenant {label}", flags=ALL_FLAGS
    )
    token, plaintext = sa_services.token_create(actor=admin, account=account, name=f"token-{label}")
    sa_services.policy_set(
        actor=admin,
        account=account,
        data={
            "cn_patterns": ["*.example.com"],
            "san_dns_patterns": ["*.example.com"],
            "allowed_ca_ids": [ca.pk],
            "allowed_certificate_types": ["server"],
            "max_validity_days": 90,
        },
    )
    eab, _ = acme_services.eab_create(actor=admin, account=account)
    return Tenant(org, admin, member, ca, child_ca, cert, account, token, plaintext, eab.kid)


def jwt_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session_start(user=user).access_token}")
    return client


def token_client(plaintext: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


@pytest.fixture
def tenant_a(db) -> Tenant:
    return make_tenant("a")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return make_tenant("b")


def response_text(response: Any) -> str:
    content = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    return content.decode("latin-1")
