"""Django's SQLite backend, with writers queued by the operating system instead of sleeping.

SQLite lets one writer at a time hold the database; a transaction that finds it taken is retried by
SQLite's busy handler, which sleeps 1, 2, 5, 10, 25 … 100 ms between attempts. With several
gunicorn workers issuing certificates at once, most of a request's time went into those sleeps.
Here a write transaction (`atomic`, begun IMMEDIATE) first takes an advisory lock on a file beside
the database: waiting writers are woken as soon as the holder commits. The wait is bounded by the
database's `timeout`, after which SQLite's own handling applies ("database is locked").

The database holds password hashes and encrypted keys, so its file is the server account's only
(0600, SPEC §11): it is created 0600 before SQLite opens it, and SQLite gives the journal, WAL
and shared-memory files it creates later the database file's own mode, whatever the umask.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
import time
from typing import Any

from django.db.backends.sqlite3 import base

_FIRST_PAUSE = 0.0001  # s; doubled up to _LONGEST_PAUSE while another writer holds the lock
_LONGEST_PAUSE = 0.002
# Files SQLite keeps beside the database: rollback journal, write-ahead log, shared-memory index.
_COMPANION_SUFFIXES = ("", "-journal", "-wal", "-shm")

logger = logging.getLogger("pkiserver")


def make_private(path: str) -> None:
    """Create the database file 0600 if missing; take group and other access off it and its
    companion files when an older version (or another tool) left them readable."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        return  # no directory, no write access: SQLite reports it, as a database error
    for name in (path + suffix for suffix in _COMPANION_SUFFIXES):
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
            if mode & 0o077:
                os.chmod(name, mode & 0o700)
                logger.warning("Made %s private to this account (mode %04o, was %04o).", name, mode & 0o700, mode)
        except FileNotFoundError:
            continue
        except OSError as exc:  # not ours to change (another owner, a read-only mount): say so, carry on
            logger.warning("%s is readable by other accounts and cannot be made private: %s", name, exc.strerror)


class DatabaseWrapper(base.DatabaseWrapper):
    _writer_fd: int | None = None
    _writer_locked = False

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        name = os.fspath(conn_params["database"])
        if not self.is_in_memory_db() and not name.startswith("file:"):
            make_private(name)
        return super().get_new_connection(conn_params)

    def _start_transaction_under_autocommit(self) -> None:
        self._take_writer_lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer_lock()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()
        finally:
            self._release_writer_lock()

    def _rollback(self) -> None:
        try:
            super()._rollback()
        finally:
            self._release_writer_lock()

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self._release_writer_lock()
            if self._writer_fd is not None:
                os.close(self._writer_fd)
                self._writer_fd = None

    def _take_writer_lock(self) -> None:
        if self._writer_locked or self.is_in_memory_db():
            return
        if self._writer_fd is None:
            self._writer_fd = os.open(f"{self.settings_dict['NAME']}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        pause = _FIRST_PAUSE
        while True:
            try:
                fcntl.flock(self._writer_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._writer_locked = True
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return  # SQLite's own busy handling decides from here
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE)

    def _release_writer_lock(self) -> None:
        if self._writer_locked and self._writer_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._writer_fd, fcntl.LOCK_UN)
        self._writer_locked = False
