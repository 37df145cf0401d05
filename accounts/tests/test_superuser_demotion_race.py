"""Two superusers demoting each other at once: one wins, the other is told it would leave none."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from accounts.models import Role, User
from conftest import bearer_client
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a meaningful race needs PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

ROUNDS = 5


def demote_each_other(first: User, second: User) -> list[int]:
    clients = [bearer_client(first), bearer_client(second)]
    targets = [second, first]
    barrier = threading.Barrier(2)
    statuses: list[int | BaseException] = [0, 0]

    def attempt(index: int) -> None:
        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            response = clients[index].patch(f"/api/v1/users/{targets[index].pk}", {"role": "user"}, format="json")
            statuses[index] = response.status_code
        except BaseException as exc:  # reported in the test's thread
            statuses[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses  # type: ignore[return-value]


def test_mutual_demotion_leaves_exactly_one_superuser():
    for round_ in range(ROUNDS):
        first = UserFactory(username=f"su_a{round_}", role=Role.SUPERUSER)
        second = UserFactory(username=f"su_b{round_}", role=Role.SUPERUSER)
        statuses = demote_each_other(first, second)
        assert sorted(statuses) == [200, 400], statuses  # never a deadlock (503) and never both
        assert User.objects.active_superusers().filter(pk__in=[first.pk, second.pk]).count() == 1
        User.objects.filter(pk__in=[first.pk, second.pk]).delete()
