"""Anonymous registration throttling (`REGISTRATION_RATE_LIMIT`): per client address, SPEC §1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import User
from accounts.throttling import RegistrationThrottle

URL = "/api/v1/users/"
PASSWORD = "Unguessable-Pass-42"


@pytest.fixture(autouse=True)
def three_per_hour(settings):
    settings.REGISTRATION_RATE_LIMIT = "3/hour"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # hashing is not under test
    cache.clear()
    yield
    cache.clear()


def register(username: str, *, address: str = "203.0.113.5", client: APIClient | None = None, **extra: object):
    body = {"username": username, "email": f"{username}@example.net", "password": PASSWORD, **extra}
    return (client or APIClient()).post(URL, body, format="json", REMOTE_ADDR=address)


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert response["Content-Type"].startswith("application/json")
    assert 0 < int(response["Retry-After"]) <= 3600
    assert response.json()["detail"]


def test_fourth_registration_from_one_address_is_throttled(user_a):
    for n in range(3):
        assert register(f"newcomer{n}").status_code == 201

    assert_throttled(register("newcomer3"))
    assert not User.objects.filter(username="newcomer3").exists()


def test_refused_registrations_count(user_a):
    assert register("weak", password="123").status_code == 400  # too short and numeric
    assert register("carol").status_code == 400  # the username is taken
    assert register("joiner", organization_id=user_a.organization_id).status_code == 403

    # The fourth attempt is well formed, and refused all the same.
    assert_throttled(register("newcomer"))
    assert not User.objects.filter(username="newcomer").exists()


def test_the_very_first_user_does_not_count(db):
    assert not User.objects.exists()
    assert register("root", role="superuser").status_code == 201

    for n in range(3):
        assert register(f"newcomer{n}").status_code == 201

    assert_throttled(register("newcomer3"))


def test_other_addresses_are_not_throttled(user_a):
    for n in range(3):
        register(f"newcomer{n}", address="203.0.113.5")
    assert_throttled(register("newcomer3", address="203.0.113.5"))

    assert register("newcomer4", address="198.51.100.9").status_code == 201


def test_logged_in_callers_are_not_throttled(client_for, superuser, admin_a):
    # Their requests neither meet the limit nor count towards the anonymous callers' one.
    root = client_for(superuser)
    admin = client_for(admin_a)
    for n in range(4):
        assert register(f"staff{n}", client=root, role="admin").status_code == 201
        assert register(f"member{n}", client=admin, can_create_cert=True).status_code == 201

    assert register("newcomer", address="203.0.113.5").status_code == 201


def test_the_limit_is_read_from_the_setting(user_a, settings):
    settings.REGISTRATION_RATE_LIMIT = "1/minute"

    assert register("newcomer0").status_code == 201
    response = register("newcomer1")

    assert_throttled(response)
    assert int(response["Retry-After"]) <= 60


SHOW_RATE = "import django; django.setup(); from django.conf import settings; print(settings.REGISTRATION_RATE_LIMIT)"


def start_up(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """`django.setup()` in a fresh process, with none of the test run's own settings variables."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY", "REGISTRATION_RATE_LIMIT"}}
    env.update(DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="pkiserver.settings", **variables)
    return subprocess.run(
        [sys.executable, "-c", SHOW_RATE],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_default_is_ten_an_hour(tmp_path):
    result = start_up(tmp_path)

    assert result.returncode == 0, result.stderr
    rate = result.stdout.strip().splitlines()[-1]
    assert rate == "10/hour"
    assert RegistrationThrottle().parse_rate(rate) == (10, 3600)


@pytest.mark.parametrize("value", ["plenty", "0/hour", "10/fortnight"])
def test_bad_rate_stops_start_up_naming_it(tmp_path, value):
    result = start_up(tmp_path, REGISTRATION_RATE_LIMIT=value)

    assert result.returncode != 0
    assert "REGISTRATION_RATE_LIMIT" in result.stderr
    assert repr(value) in result.stderr
