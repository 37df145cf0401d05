"""Django's PostgreSQL backend with a health check that costs no round trip while it passes.

With persistent connections Django checks a connection before the first query of each request
(`CONN_HEALTH_CHECKS`) by sending `SELECT 1`: one round trip on every request, more than the
authentication query itself costs. An idle connection whose server is gone has something to read:
PostgreSQL's termination notice, or the end of the stream once the server or its backend is
killed (the kernel closes the socket). So the check first asks the socket, without waiting; only a
readable socket (or a connection not idle) gets the `SELECT 1`, whose failure closes it as before.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        if conn.info.transaction_status == TransactionStatus.IDLE and not _readable(conn.fileno()):
            return True
        return super().is_usable()


def _readable(fd: int) -> bool:
    poller = select.poll()  # not select.select: file descriptors above 1023 are allowed
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))
