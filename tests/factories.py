"""factory-boy factories shared by every app's tests."""

from __future__ import annotations

import factory
from django.conf import settings
from django.contrib.auth.hashers import make_password

from accounts.models import Role, User
from orgs.models import Organization

# Hashing with Argon2 costs ~0.1 s; tests that are not about passwords share one hash.
PASSWORD = "correct-horse-battery"
_PASSWORD_HASH: dict[str, str] = {}


def password_hash() -> str:
    # Keyed by the hasher in force: a hash made while a test swapped in MD5 must not be reused
    # once Argon2 is back (it would no longer verify, and logins would fail in later tests).
    hasher = settings.PASSWORD_HASHERS[0]
    if hasher not in _PASSWORD_HASH:
        _PASSWORD_HASH[hasher] = make_password(PASSWORD)
    return _PASSWORD_HASH[hasher]


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    description = "test organization"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = Role.USER
    password = factory.LazyFunction(password_hash)
