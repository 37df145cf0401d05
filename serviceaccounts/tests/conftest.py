"""Service-account test helpers: accounts, token clients, fast CAs (EC P-256) and policies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from certificates import services as pki_services
from certificates.models import CertificateAuthority
from orgs.models import Organization
from serviceaccounts import services
from serviceaccounts.models import IssuancePolicy, ServiceAccount

API = "/api/v1"
REQUEST_BASE = "http://testserver"
FAST_KEY = {"key_algorithm": "ecdsa", "key_size": 256}

# A policy that allows what the end-to-end tests issue, and nothing more.
WEB_POLICY = {
    "cn_patterns": ["*.svc.example.com"],
    "san_dns_patterns": ["*.svc.example.com"],
    "san_ip_cidrs": ["10.0.0.0/8", "fd00::/8"],
    "san_email_domains": ["example.com"],
    "allowed_certificate_types": ["server", "client"],
    "max_validity_days": 90,
}


def make_ca(actor: User, name: str) -> CertificateAuthority:
    data = pki_services.CARequest(name=name, subject_dn=f"CN={name},O=Test,C=US", **FAST_KEY)
    return pki_services.ca_create(actor=actor, data=data, request_base=REQUEST_BASE).obj


def make_account(org: Organization, name: str = "deployer", **fields: Any) -> ServiceAccount:
    return ServiceAccount.objects.create(name=name, organization=org, **fields)


def token_client(account: ServiceAccount, **token_fields: Any) -> APIClient:
    """A client presenting a freshly minted token of `account` (minted by a superuser actor)."""
    _token, plaintext = services.token_create(actor=_Root(), account=account, **token_fields)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    client.token = plaintext  # type: ignore[attr-defined]
    return client


def set_policy(account: ServiceAccount, **rules: Any) -> IssuancePolicy:
    return services.policy_set(actor=_Root(), account=account, data=rules)


class _Root:
    """A superuser actor for set-up code that should not depend on the user personas."""

    is_authenticated = True
    is_active = True
    is_service_account = False
    role = "superuser"
    pk = None
    organization_id = None
    username = "setup"


@pytest.fixture
def root_a(admin_a) -> CertificateAuthority:
    return make_ca(admin_a, "Root A")


@pytest.fixture
def root_b(admin_b) -> CertificateAuthority:
    return make_ca(admin_b, "Root B")


@pytest.fixture
def robot(org_a) -> ServiceAccount:
    """A service account of organization A that may issue certificates."""
    return make_account(org_a, "deployer", can_create_cert=True)


@pytest.fixture
def robot_client(robot) -> APIClient:
    return token_client(robot)


@pytest.fixture
def sa_client() -> Callable[..., APIClient]:
    return token_client
