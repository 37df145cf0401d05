"""Login throttles: attempts per username and per client address (`AUTH_RATE_LIMIT`)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


class _LoginThrottle(SimpleRateThrottle):
    def get_rate(self) -> str:
        return settings.AUTH_RATE_LIMIT  # read at call time so operators and tests can change it

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        if rate is None:
            return None, None
        count, period = rate.split("/")
        seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period.strip()[0]]
        return int(count), seconds


class LoginUsernameThrottle(_LoginThrottle):
    scope = "login_user"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        username = str(request.data.get("username", "")).strip().lower()
        if not username:
            return None
        return self.cache_format % {"scope": self.scope, "ident": hashlib.sha256(username.encode()).hexdigest()}


class LoginAddressThrottle(_LoginThrottle):
    scope = "login_addr"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
