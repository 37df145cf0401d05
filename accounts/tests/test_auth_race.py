"""One refresh token presented by many clients at once: exactly one rotation wins (PostgreSQL)."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from accounts.models import AuthSession
from accounts.tokens import session_start

THREADS = 10

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="thread races need PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


def _present_all_at_once(refresh_token: str) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(THREADS)

    def present() -> tuple[int, dict]:
        try:
            client = APIClient()
            barrier.wait(timeout=30)
            response = client.post("/api/v1/auth/refresh", {"refresh_token": refresh_token}, format="json")
            return response.status_code, response.json()
        finally:
            connections.close_all()  # this thread's connections only

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(lambda _: present(), range(THREADS)))


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_refresh_rotates_exactly_once(user_a, round_):
    pair = session_start(user=user_a)

    results = _present_all_at_once(pair.refresh_token)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [401] * (THREADS - 1), statuses
    (winner,) = [body for status, body in results if status == 200]
    assert set(winner) == {"access_token", "refresh_token", "token_type"}
    assert winner["refresh_token"] != pair.refresh_token
    # No lost update: the session row holds the winner's refresh token, not a loser's.
    session = AuthSession.objects.get(user=user_a)
    winner_jti = jwt.decode(winner["refresh_token"], options={"verify_signature": False})["jti"]
    assert session.refresh_jti_hash == hashlib.sha256(winner_jti.encode()).hexdigest()
    # The losers presented a token that had just been rotated: that is reuse, and reuse closes the
    # family (SPEC §2 theft detection), so the winner's new pair is refused too.
    assert session.revoked_reason == "reuse"
    assert APIClient().post("/api/v1/auth/refresh", {"refresh_token": winner["refresh_token"]}).status_code == 401
