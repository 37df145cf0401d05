"""The SQLite backend queues write transactions on a lock file (pkiserver/db/sqlite3)."""

from __future__ import annotations

import fcntl
import threading
import time

import pytest
from django.db.utils import ConnectionHandler


@pytest.fixture
def handler(tmp_path, django_db_blocker):
    """Connections to one SQLite file, one per thread, as gunicorn workers have (not the test
    database: pytest-django's blocker is lifted for these alone)."""
    settings = {
        "ENGINE": "pkiserver.db.sqlite3",
        "NAME": str(tmp_path / "queue.sqlite3"),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 5},
    }
    handler = ConnectionHandler({"default": settings})
    with django_db_blocker.unblock():
        with handler["default"].cursor() as cursor:
            cursor.execute("CREATE TABLE t (n INTEGER)")
        yield handler
        handler.close_all()


def _lock_file_is_taken(conn) -> bool:
    """Whether another process (another open file description) would wait for the lock file."""
    with open(f"{conn.settings_dict['NAME']}.writer-lock", "rb") as other:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(other, fcntl.LOCK_UN)
        return False


def _begin(conn) -> None:
    conn.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)


def _insert_and_commit(conn, n: int) -> None:
    with conn.cursor() as cursor:
        cursor.execute("INSERT INTO t VALUES (%s)", [n])
    conn.commit()
    conn.set_autocommit(True)


def test_a_second_writer_waits_for_the_first_to_commit(handler):
    first = handler["default"]
    events: list[str] = []
    _begin(first)
    assert _lock_file_is_taken(first)

    def second_writer() -> None:
        second = handler["default"]  # this thread's own connection
        _begin(second)
        events.append("second began")
        _insert_and_commit(second, 2)
        second.close()

    thread = threading.Thread(target=second_writer)
    thread.start()
    time.sleep(0.3)
    events.append("first commits")
    _insert_and_commit(first, 1)
    thread.join(10)

    assert events == ["first commits", "second began"]
    assert not _lock_file_is_taken(first)
    with first.cursor() as cursor:
        cursor.execute("SELECT n FROM t ORDER BY rowid")
        assert [row[0] for row in cursor.fetchall()] == [1, 2]


def test_a_rollback_or_a_closed_connection_releases_the_lock(handler):
    conn = handler["default"]
    _begin(conn)
    conn.rollback()
    conn.set_autocommit(True)
    assert not _lock_file_is_taken(conn)

    _begin(conn)
    conn.close()  # a worker's connection dropped mid-transaction
    waited: list[float] = []

    def next_writer() -> None:
        other = handler["default"]
        started = time.monotonic()
        _begin(other)
        waited.append(time.monotonic() - started)
        _insert_and_commit(other, 3)
        other.close()

    thread = threading.Thread(target=next_writer)
    thread.start()
    thread.join(10)

    assert waited and waited[0] < 1
