"""`--compare REF`: the working tree and REF side by side in one run, each workload's p50 as a ratio.

REF is checked out into a temporary `git worktree` (removed afterwards). Each tree gets its own
server running its own code, on its own fresh database, and its own `Bench` with the same plan and
the same CSR; the load generator and the floors are this tree's. The two benches run in threads
that take turns (`Turns`): only one runs at a time, and each hands over after every timed round,
so round k of a workload on one tree is followed by round k on the other, and a change in the
machine's load hits both alike. Set-up work (the API calls that build the dataset, bulk loads)
runs in a bench's own turn too, never while the other is timing.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from bench.server import REPO, cache_for, database, database_label, running_server
from bench.workloads import Bench, Plan, Row

# Issue 17: "no workload may be slower than 1.3x" the commit before the redesign.
SLOWER = 1.3
# A concurrent run is cut into this many rounds, so the trees alternate within it too.
CONCURRENT_ROUNDS = 4


class Turns:
    """Runs in threads of their own that take turns: only the run holding the turn goes on;
    `pause(slot)` hands the turn to the next run still going and waits for it to come back.
    If a run fails, the others stop at their next pause."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._going = set(range(count))
        self._turn = 0
        self._cond = threading.Condition()
        self.error: BaseException | None = None

    def run(self, slot: int, fn: Callable[[], Any]) -> None:
        """The body of run `slot`'s thread; an error is kept in `self.error`."""
        try:
            with self._cond:
                self._cond.wait_for(lambda: self._turn == slot or self.error is not None)
            if self.error is None:
                fn()
        except BaseException as exc:  # the caller re-raises it
            with self._cond:
                self.error = self.error or exc
        finally:
            with self._cond:
                self._going.discard(slot)
                self._hand_on(slot)

    def pause(self, slot: int) -> None:
        with self._cond:
            self._hand_on(slot)
            self._cond.wait_for(lambda: self._turn == slot or self.error is not None)
            if self.error is not None:
                raise RuntimeError("the other tree's run failed")

    def _hand_on(self, slot: int) -> None:
        for step in range(1, self._count + 1):
            if (slot + step) % self._count in self._going:
                self._turn = (slot + step) % self._count
                break
        self._cond.notify_all()


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


@dataclass(frozen=True)
class Tree:
    name: str  # "current" or "ref"
    path: Path
    label: str  # what it is: the commit, and for the working tree whether it has changes


def current_tree() -> Tree:
    changed = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return Tree("current", REPO, _git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if changed else ""))


@contextlib.contextmanager
def ref_tree(ref: str) -> Iterator[Tree]:
    """REF checked out in a temporary worktree, removed (and pruned) afterwards."""
    try:
        commit = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except subprocess.CalledProcessError:
        raise SystemExit(f"bench: --compare {ref}: not a commit of this repository") from None
    parent = Path(tempfile.mkdtemp(prefix="pkiserver-bench-ref-"))
    path = parent / "tree"
    _git("worktree", "add", "--detach", str(path), commit)
    try:
        yield Tree("ref", path, f"{ref} = {commit[:7]}")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, capture_output=True)
        subprocess.run(["git", "worktree", "prune"], cwd=REPO, capture_output=True)
        shutil.rmtree(parent, ignore_errors=True)


def run_pair(
    backend: str,
    trees: list[Tree],
    plan: Plan,
    sections: set[str],
    *,
    database_url: str,
    cache_url: str,
    workers: int,
    scale: bool,
    log: Callable[[str], None],
) -> tuple[dict[str, list[Row]], dict[str, Any]]:
    """One server per tree on `backend`, each on a fresh database, measured in turns."""
    started = time.perf_counter()
    turns = Turns(len(trees))
    csr_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with contextlib.ExitStack() as stack:
        benches: dict[str, Bench] = {}
        labels: dict[str, str] = {}
        for slot, tree in enumerate(trees):
            url = stack.enter_context(database(backend, database_url))
            log(f"== {backend} [{tree.name}]: starting the server of {tree.label} ({tree.path})")
            cache = cache_for(cache_url, slot)
            server = stack.enter_context(running_server(backend, url, workers, cache, tree=tree.path))
            labels[tree.name] = f"{database_label(url)}, cache {cache}"
            benches[tree.name] = Bench(
                server,
                plan,
                log=lambda message, name=tree.name: log(f"[{name}] {message}"),
                pause=functools.partial(turns.pause, slot),
                concurrent_rounds=CONCURRENT_ROUNDS,
                csr_key=csr_key,
            )
        threads = [
            threading.Thread(target=turns.run, args=(slot, functools.partial(bench.run, sections, scale)))
            for slot, bench in enumerate(benches.values())
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if turns.error is not None:
            raise turns.error
    info = {"seconds": round(time.perf_counter() - started, 1), "database": labels}
    return {name: bench.rows for name, bench in benches.items()}, info


def compared(current: list[Row], ref: list[Row], limit: float = SLOWER) -> list[dict[str, Any]]:
    """One entry per workload (matched by backend and name): both p50s and p95s, their ratios
    current / REF, and `slower` when the p50 ratio is over `limit` (None: nothing timed)."""
    by_key = {(r.backend, r.workload): r for r in ref}
    keys = [(r.backend, r.workload) for r in current]
    keys += [k for k in by_key if k not in set(keys)]
    mine = {(r.backend, r.workload): r for r in current}
    out = []
    for key in keys:
        a, b = mine.get(key), by_key.get(key)
        entry: dict[str, Any] = {"backend": key[0], "workload": key[1], "n": a.n if a else b.n if b else 0}
        for stat in ("p50_ms", "p95_ms"):
            x, y = getattr(a, stat, None), getattr(b, stat, None)
            entry[f"current_{stat}"], entry[f"ref_{stat}"] = x, y
            entry[f"{stat[:3]}_ratio"] = x / y if x is not None and y else None
        entry["current_value"], entry["ref_value"] = getattr(a, "value", ""), getattr(b, "value", "")
        entry["slower"] = entry["p50_ratio"] > limit if entry["p50_ratio"] is not None else None
        out.append(entry)
    return out


HEADERS = [
    "backend",
    "workload",
    "n",
    "p50 ms current",
    "p50 ms REF",
    "p50 ratio",
    "p95 ms current",
    "p95 ms REF",
    "p95 ratio",
    f"verdict (p50 ratio > {SLOWER:g}: slower)",
]


def cells(entry: dict[str, Any]) -> list[str]:
    def fmt(value: float | None) -> str:
        return "" if value is None else f"{value:.2f}"

    if entry["slower"] is None:
        values = entry["current_value"] or entry["ref_value"]
        verdict = "-" + (f" (current {entry['current_value']}; REF {entry['ref_value']})" if values else "")
    else:
        verdict = "SLOWER" if entry["slower"] else "ok"
    return [
        entry["backend"],
        entry["workload"],
        str(entry["n"]),
        fmt(entry["current_p50_ms"]),
        fmt(entry["ref_p50_ms"]),
        fmt(entry["p50_ratio"]),
        fmt(entry["current_p95_ms"]),
        fmt(entry["ref_p95_ms"]),
        fmt(entry["p95_ratio"]),
        verdict,
    ]
