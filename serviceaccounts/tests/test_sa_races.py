"""Races (PostgreSQL): one name per organization, and one last_used_at write, however many race."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from serviceaccounts.authentication import ServiceAccountTokenAuthentication
from serviceaccounts.models import ServiceAccount
from serviceaccounts.tests.conftest import API, make_account, token_client

THREADS = 8

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="thread races need PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


def _all_at_once(call) -> list:
    barrier = threading.Barrier(THREADS)

    def run(index: int):
        try:
            barrier.wait(timeout=30)
            return call(index)
        finally:
            connections.close_all()  # this thread's connections only

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(run, range(THREADS)))


def test_one_name_per_organization_when_creates_race(client_for, admin_a):
    clients = [client_for(admin_a) for _ in range(THREADS)]

    def create(index: int) -> int:
        name = "deployer" if index % 2 else "DEPLOYER"  # the same name, whatever the case
        return clients[index].post(f"{API}/service-accounts/", {"name": name}).status_code

    statuses = _all_at_once(create)

    assert sorted(statuses) == [201] + [400] * (THREADS - 1), statuses
    assert ServiceAccount.objects.count() == 1


def test_racing_requests_write_last_used_at_once(org_a, monkeypatch):
    raw = token_client(make_account(org_a)).token
    touch = ServiceAccountTokenAuthentication._touch
    wrote: list[bool] = []

    def counting_touch(token, now):
        result = touch(token, now)
        wrote.append(result)
        return result

    monkeypatch.setattr(ServiceAccountTokenAuthentication, "_touch", staticmethod(counting_touch))

    def call(_index: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client.get(f"{API}/cas/").status_code

    statuses = _all_at_once(call)

    assert statuses == [200] * THREADS
    assert len(wrote) == THREADS
    assert wrote.count(True) == 1  # however many tried, one conditional UPDATE matched
