"""Throttles of anonymous writes: login attempts (`AUTH_RATE_LIMIT`) and registrations (`REGISTRATION_RATE_LIMIT`)."""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


class _SettingRateThrottle(SimpleRateThrottle):
    """A throttle whose rate is the setting named by `rate_setting`, in FastPKI's format (`5/minute`)."""

    rate_setting: ClassVar[str]

    def get_rate(self) -> str:
        return getattr(settings, self.rate_setting)  # read at call time so operators and tests can change it

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        if rate is None:
            return None, None
        count, period = rate.split("/")
        seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period.strip()[0]]
        return int(count), seconds


class _LoginThrottle(_SettingRateThrottle):
    rate_setting = "AUTH_RATE_LIMIT"


class LoginUsernameThrottle(_LoginThrottle):
    scope = "login_user"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        data = request.data
        assert isinstance(data, dict)  # the parsers take a JSON object or a form, never a list
        username = str(data.get("username", "")).strip().lower()
        if not username:
            return None
        return self.cache_format % {"scope": self.scope, "ident": hashlib.sha256(username.encode()).hexdigest()}


class LoginAddressThrottle(_LoginThrottle):
    scope = "login_addr"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class RegistrationThrottle(_SettingRateThrottle):
    """Anonymous `POST /users/` per client address (SPEC §1): each one may cost an Argon2 hash.

    Every attempt let through counts, whatever the view then answers (a refused registration
    cost a request too). A logged-in caller (an admin creating users) is not throttled, nor is
    the bootstrap while no user exists.
    """

    scope = "registration"
    rate_setting = "REGISTRATION_RATE_LIMIT"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.user is not None and request.user.is_authenticated:
            return None
        if not get_user_model().objects.exists():
            return None  # the very first user is never refused by, nor counted against, the limit
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
