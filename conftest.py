"""Personas and clients shared by every test (see STYLE.md)."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Role, User
from accounts.tokens import session_start
from tests.factories import OrganizationFactory, UserFactory


@pytest.fixture(autouse=True)
def _fast_and_unthrottled(settings, tmp_path):
    settings.AUTH_RATE_LIMIT = "10000/minute"
    settings.REGISTRATION_RATE_LIMIT = "10000/minute"
    settings.CACHES = {**settings.CACHES, "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def org_a(db):
    return OrganizationFactory(name="Org A")


@pytest.fixture
def org_b(db):
    return OrganizationFactory(name="Org B")


@pytest.fixture
def superuser(db) -> User:
    return UserFactory(username="root", role=Role.SUPERUSER)


@pytest.fixture
def admin_a(org_a) -> User:
    return UserFactory(username="alice_admin", role=Role.ADMIN, organization=org_a)


@pytest.fixture
def admin_b(org_b) -> User:
    return UserFactory(username="bob_admin", role=Role.ADMIN, organization=org_b)


@pytest.fixture
def user_a(org_a) -> User:
    return UserFactory(username="carol", organization=org_a)


@pytest.fixture
def user_a_capable(org_a) -> User:
    return UserFactory(
        username="dave",
        organization=org_a,
        can_create_ca=True,
        can_create_cert=True,
        can_revoke_cert=True,
        can_export_private_key=True,
        can_delete_ca=True,
    )


@pytest.fixture
def user_b(org_b) -> User:
    return UserFactory(username="erin", organization=org_b)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


def bearer_client(user: User) -> APIClient:
    """A client holding a real access token of a fresh session for `user`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session_start(user=user).access_token}")
    client.user = user  # type: ignore[attr-defined]
    return client


@pytest.fixture
def client_for():
    return bearer_client


# Issue #6: every answer made during the session is checked for a private key outside the
# private-key routes; a test during which one leaked fails (see tests/security/private_key_watch.py).
pytest_plugins = ["tests.security.private_key_watch"]
