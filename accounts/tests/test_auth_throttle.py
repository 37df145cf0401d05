"""Login throttling (`AUTH_RATE_LIMIT`): per username and per client address, and the setting's format."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.throttling import LoginAddressThrottle
from pkiserver.env import ConfigError, env_rate
from tests.factories import PASSWORD

TOKEN_URL = "/api/v1/auth/token"


@pytest.fixture(autouse=True)
def three_per_minute(settings):
    settings.AUTH_RATE_LIMIT = "3/minute"
    cache.clear()
    yield
    cache.clear()


def attempt(username: str, password: str, *, address: str):
    body = urlencode({"username": username, "password": password})
    return APIClient().post(TOKEN_URL, body, content_type="application/x-www-form-urlencoded", REMOTE_ADDR=address)


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["detail"]


def test_fourth_attempt_on_one_username_is_throttled_from_any_address(user_a):
    for n in range(3):
        assert attempt("carol", "wrong-guess", address=f"10.0.0.{n + 1}").status_code == 401

    # Even the right password, from a fresh address: the username is locked for now.
    assert_throttled(attempt("carol", PASSWORD, address="10.0.0.99"))


def test_username_throttle_ignores_case_and_spaces(user_a):
    for n, spelling in enumerate(["carol", "CAROL", " Carol "]):
        attempt(spelling, "wrong-guess", address=f"10.0.1.{n + 1}")

    assert_throttled(attempt("carol", "wrong-guess", address="10.0.1.99"))


def test_fourth_attempt_from_one_address_is_throttled_whatever_the_username(user_a):
    for name in ("mallory1", "mallory2", "mallory3"):
        assert attempt(name, "wrong-guess", address="192.0.2.7").status_code == 401

    assert_throttled(attempt("carol", PASSWORD, address="192.0.2.7"))


def test_throttling_one_address_leaves_other_users_and_addresses_alone(user_a):
    for name in ("mallory1", "mallory2", "mallory3"):
        attempt(name, "wrong-guess", address="192.0.2.7")
    assert_throttled(attempt("mallory4", "wrong-guess", address="192.0.2.7"))

    assert attempt("carol", PASSWORD, address="198.51.100.1").status_code == 200


def test_attempts_below_the_limit_are_not_throttled(user_a):
    # The control for the tests above: three attempts, the last one succeeds.
    attempt("carol", "wrong-guess", address="10.0.2.1")
    attempt("carol", "wrong-guess", address="10.0.2.1")

    assert attempt("carol", PASSWORD, address="10.0.2.1").status_code == 200


BAD_RATES = ["", "five/minute", "5", "5/", "/minute", "0/minute", "-1/minute", "5/fortnight", "5/minute/x", "²/minute"]


@pytest.mark.parametrize("value", BAD_RATES)
def test_bad_rate_is_refused_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("AUTH_RATE_LIMIT", value)

    with pytest.raises(ConfigError, match="AUTH_RATE_LIMIT"):
        env_rate("AUTH_RATE_LIMIT", "5/minute")


GOOD_RATES = {
    "5/minute": ("5/minute", 5, 60),
    "10/s": ("10/s", 10, 1),
    " 100/HOUR ": ("100/hour", 100, 3600),
    "2/day": ("2/day", 2, 86400),
    "7/min": ("7/min", 7, 60),
}


@pytest.mark.parametrize("value, expected", GOOD_RATES.items(), ids=GOOD_RATES.keys())
def test_good_rate_is_normalised_and_understood_by_the_throttle(monkeypatch, value, expected):
    normalised, count, seconds = expected
    monkeypatch.setenv("AUTH_RATE_LIMIT", value)

    rate = env_rate("AUTH_RATE_LIMIT", "5/minute")

    assert rate == normalised
    assert LoginAddressThrottle().parse_rate(rate) == (count, seconds)


def test_bad_rate_stops_start_up(tmp_path):
    env = {
        **os.environ,
        "AUTH_RATE_LIMIT": "lots",
        "DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "pkiserver.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "AUTH_RATE_LIMIT" in result.stderr
    assert "'lots'" in result.stderr
