"""The first-user bootstrap under a race: of 20 simultaneous requests exactly one wins."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import SystemState, User
from audit.models import AuditAction, AuditLog

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a meaningful race needs PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

RACERS = 20
ROUNDS = 3


def race() -> list[tuple[str, int]]:
    """Every racer POSTs a superuser at the same moment, each from its own client and connection."""
    barrier = threading.Barrier(RACERS)
    results: list[tuple[str, int] | BaseException | None] = [None] * RACERS

    def attempt(index: int) -> None:
        username = f"founder{index}"
        client = APIClient()
        try:
            connection.ensure_connection()  # connect before the barrier so the requests collide
            barrier.wait(timeout=30)
            body = {
                "username": username,
                "email": f"{username}@example.com",
                "password": "Race-Winner-2024",
                "role": "superuser",
            }
            results[index] = (username, client.post("/api/v1/users/", body, format="json").status_code)
        except BaseException as exc:  # reported below, in the test's thread
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    errors = [result for result in results if not isinstance(result, tuple)]
    assert not errors, errors
    return results  # type: ignore[return-value]


def reset() -> None:
    User.objects.all().delete()
    SystemState.objects.all().delete()


@pytest.mark.parametrize(
    ("registration_open", "loser_statuses"),
    [(True, {403}), (False, {401, 403})],
    ids=["registration-open", "registration-closed"],
)
def test_exactly_one_of_twenty_simultaneous_first_users_wins(settings, registration_open, loser_statuses):
    # Closed registration: a loser that saw the winner's commit is refused before the service (401).
    settings.ALLOW_UNAUTHENTICATED_REGISTRATION = registration_open
    for round_number in range(ROUNDS):
        reset()
        audited_before = AuditLog.objects.filter(action=AuditAction.USER_CREATE).count()

        results = race()

        winners = [username for username, status in results if status == 201]
        losers = {status for _, status in results if status != 201}
        assert len(winners) == 1, (round_number, results)
        assert losers <= loser_statuses, (round_number, results)
        assert list(User.objects.values_list("username", "role")) == [(winners[0], "superuser")]
        assert SystemState.objects.count() == 1
        assert AuditLog.objects.filter(action=AuditAction.USER_CREATE).count() == audited_before + 1
