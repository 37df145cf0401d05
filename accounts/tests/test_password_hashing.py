"""Passwords are hashed with Argon2id at RFC 9106's 64 MiB parameters; older hashes are re-made at login."""

from __future__ import annotations

import pytest
from argon2 import Type
from argon2.low_level import verify_secret
from argon2.profiles import RFC_9106_LOW_MEMORY
from django.contrib.auth import hashers
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from rest_framework.test import APIClient

from accounts.hashers import Argon2PasswordHasher
from accounts.tests.test_auth_token import form_login
from tests.factories import UserFactory

NEW_PASSWORD = "Hashing-Pass-2026!"


def _parameters(encoded: str) -> dict:
    decoded = identify_hasher(encoded).decode(encoded)
    return {key: decoded[key] for key in ("algorithm", "variety", "time_cost", "memory_cost", "parallelism")}


def test_a_new_hash_is_argon2id_with_the_rfc_9106_low_memory_parameters():
    encoded = make_password(NEW_PASSWORD)

    assert isinstance(identify_hasher(encoded), Argon2PasswordHasher)
    assert _parameters(encoded) == {
        "algorithm": "argon2",
        "variety": "argon2id",
        "time_cost": RFC_9106_LOW_MEMORY.time_cost,  # argon2-cffi's own copy of the RFC's option
        "memory_cost": RFC_9106_LOW_MEMORY.memory_cost,
        "parallelism": RFC_9106_LOW_MEMORY.parallelism,
    }
    assert RFC_9106_LOW_MEMORY.type is Type.ID
    # The encoded hash is a standard Argon2 string: libargon2 verifies it without Django.
    assert verify_secret(encoded.removeprefix("argon2").encode(), NEW_PASSWORD.encode(), Type.ID)
    assert check_password(NEW_PASSWORD, encoded) and not check_password("wrong-" + NEW_PASSWORD, encoded)


@pytest.mark.django_db
def test_a_hash_made_with_djangos_defaults_still_logs_in_and_is_made_again(anon):
    old = make_password(NEW_PASSWORD, hasher=hashers.Argon2PasswordHasher())
    assert _parameters(old)["memory_cost"] == 102400  # Django's default: 100 MiB
    user = UserFactory(username="olga", password=old)

    assert form_login(anon, {"username": "olga", "password": "not-" + NEW_PASSWORD}).status_code == 401
    user.refresh_from_db()
    assert user.password == old  # a failed login rewrites nothing

    upgrading = form_login(anon, {"username": "olga", "password": NEW_PASSWORD})
    assert upgrading.status_code == 200
    user.refresh_from_db()
    assert user.password != old
    assert _parameters(user.password)["memory_cost"] == Argon2PasswordHasher.memory_cost
    assert form_login(anon, {"username": "olga", "password": NEW_PASSWORD}).status_code == 200
    # Making the hash again is not a password change: the session of that login stays open.
    me = APIClient(HTTP_AUTHORIZATION=f"Bearer {upgrading.json()['access_token']}").get("/api/v1/users/me")
    assert me.status_code == 200 and me.json()["username"] == "olga"
