"""The load generator: `http.client` connections (one per thread), per-request latencies, stats.

Python threads are enough at these rates: a client thread spends its time waiting on the socket,
and the per-request client cost (about 0.1 ms) is the same for every workload it compares.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Pause = Callable[[], None] | None  # called after each timed round (bench.compare hands the turn over there)


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    first_byte: float = 0.0  # seconds from sending the request to its status line and headers

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """One keep-alive connection per thread (gunicorn's sync workers close it after each answer,
    and http.client reconnects on the next request, as a real client would)."""

    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        self.host, self.port, self.token = host, port, token
        self._local = threading.local()

    def with_token(self, token: str) -> Client:
        return Client(self.host, self.port, token)

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
        return conn

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        conn = self._connection()
        for attempt in (1, 2):
            try:
                start = time.perf_counter()
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                first_byte = time.perf_counter() - start
                data = response.read()
                if response.will_close:
                    conn.close()
                return Answer(response.status, response.headers, data, first_byte)
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, payload: Any = None, expect: int = 200, **kwargs: Any) -> Answer:
        body = None
        headers = kwargs.pop("headers", {})
        if payload is not None:
            body = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json", **headers}
        answer = self.request(method, path, body=body, headers=headers, **kwargs)
        if answer.status != expect:
            raise RuntimeError(f"{method} {path}: {answer.status} (expected {expect}): {answer.body[:500]!r}")
        return answer


@dataclass
class Samples:
    """Latencies (seconds) of one workload, and the wall time the whole run took."""

    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    clients: int = 1

    @property
    def n(self) -> int:
        return len(self.latencies)

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p95(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]

    @property
    def throughput(self) -> float:
        return self.n / self.wall if self.wall else 0.0


def timed(fn: Callable[[int], Any], n: int, warmup: int = 0, pause: Pause = None) -> Samples:
    """Call fn(i) n times in a row (after `warmup` untimed calls)."""
    for i in range(warmup):
        fn(-1 - i)
    samples = Samples()
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        samples.latencies.append(time.perf_counter() - t0)
    samples.wall = time.perf_counter() - start
    if pause:
        pause()
    return samples


def interleaved(runs: list[tuple[Callable[[int], Any], int]], rounds: int = 5, pause: Pause = None) -> list[Samples]:
    """Several workloads timed in alternating rounds, a share of each per round, so that a change in
    the machine's load during the run weighs on all of them alike (a floor and its workload)."""
    out = [Samples() for _ in runs]
    done = [0] * len(runs)
    for r in range(rounds):
        for k, (fn, n) in enumerate(runs):
            share = n // rounds + (1 if r < n % rounds else 0)
            start = time.perf_counter()
            for _ in range(share):
                t0 = time.perf_counter()
                fn(done[k])
                out[k].latencies.append(time.perf_counter() - t0)
                done[k] += 1
            out[k].wall += time.perf_counter() - start
        if pause:
            pause()
    return out


def concurrent(
    fn: Callable[[int], Any],
    clients: int,
    n: int | None = None,
    seconds: float | None = None,
    warmup: int = 0,
    rounds: int = 1,
    pause: Pause = None,
) -> Samples:
    """`clients` threads calling fn(i) back to back: `n` calls in all, or for `seconds`, cut into
    `rounds` runs (their latencies and wall times added up) with `pause` after each."""
    if warmup:
        _concurrent(fn, clients, range(warmup * clients), None)
    samples = Samples(clients=clients)
    for r in range(rounds):
        if n is not None:
            part = _concurrent(fn, clients, range(r * n // rounds, (r + 1) * n // rounds), None)
        else:
            part = _concurrent(fn, clients, range(r * 10**12, (r + 1) * 10**12), (seconds or 0.0) / rounds)
        samples.latencies += part.latencies
        samples.wall += part.wall
        if pause:
            pause()
    return samples


def _concurrent(fn: Callable[[int], Any], clients: int, indexes: range, seconds: float | None) -> Samples:
    samples = Samples(clients=clients)
    lock = threading.Lock()
    counter = iter(indexes)
    barrier = threading.Barrier(clients + 1)
    errors: list[BaseException] = []
    deadline = [0.0]

    def worker() -> None:
        mine: list[float] = []
        barrier.wait()
        try:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None or (seconds is not None and time.perf_counter() >= deadline[0]):
                    break
                t0 = time.perf_counter()
                fn(i)
                mine.append(time.perf_counter() - t0)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)
        with lock:
            samples.latencies.extend(mine)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    deadline[0] = start + (seconds or 0.0)
    barrier.wait()
    for thread in threads:
        thread.join()
    samples.wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    return samples
