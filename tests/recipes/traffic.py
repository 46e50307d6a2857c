"""App traffic of one release while phases run: SQLAlchemy engines in threads, nothing retried.

Each worker loops over INSERT ... RETURNING, SELECT of a random existing row by key and UPDATE of a random
existing row, each in its own committed transaction (so psycopg prepares the statements server-side, as
a busy app's pooled connections do). Every error is kept. Workers of all releases share one numbering:
worker w (from 1) updates only keys with key % workers == w % workers, so each key has one writer at a
time and the test knows the last value written to every column of every key it touched.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from expandcontract.db.connect import make_engine

Values = dict[str, Callable[[random.Random, int], Any]]  # column -> value for (rng, key)


@dataclass
class Release:
    name: str
    table: sa.Table  # the release's model of the table
    key: str
    values: Values  # columns the release writes, with how it makes a value
    reads: tuple[str, ...] = ()  # columns to select (default: all the model maps)


@dataclass
class Worker:
    release: Release
    number: int
    workers: int
    url: str
    max_key: int
    errors: list[str] = field(default_factory=list)
    ops: int = 0
    written: dict[int, dict[str, Any]] = field(default_factory=dict)  # key -> column -> last value
    inserted: list[int] = field(default_factory=list)
    timings: list[tuple[float, float, bool]] = field(default_factory=list)  # (start, seconds, ok) per operation


class Traffic:
    """The traffic of one release: `start()`, `wait(ops)`, `stop()`; errors and writes afterwards."""

    def __init__(
        self, url: str, release: Release, *, first_worker: int, workers: int, threads: int, max_key: int
    ) -> None:
        self.release = release
        self.stopping = threading.Event()
        self.cond = threading.Condition()
        self.workers = [Worker(release, first_worker + i, workers, url, max_key) for i in range(threads)]
        self.threads = [threading.Thread(target=self._loop, args=(w,), daemon=True) for w in self.workers]
        self.started = False

    @property
    def ops(self) -> int:
        return sum(w.ops for w in self.workers)

    @property
    def errors(self) -> list[str]:
        return [e for w in self.workers for e in w.errors]

    def start(self) -> Traffic:
        for t in self.threads:
            t.start()
        self.started = True
        return self

    def wait(self, ops: int, timeout: float = 60.0) -> None:
        """Until the workers together did `ops` more operations (or one died)."""
        target = self.ops + ops
        with self.cond:
            done = self.cond.wait_for(
                lambda: self.ops >= target or not all(t.is_alive() for t in self.threads), timeout
            )
        assert done, f"{self.release.name} traffic did only {self.ops} of {target} operations in {timeout}s"

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads if self.started else ():
            t.join(60)
            assert not t.is_alive(), "a traffic worker did not stop"

    def _loop(self, w: Worker) -> None:
        engine = make_engine(
            w.url, pool_size=1, max_overflow=0, connect_args={"application_name": f"app-{w.release.name}"}
        )
        rng = random.Random(w.number)
        table, key = w.release.table, w.release.table.c[w.release.key]
        cols = [table.c[c] for c in w.release.reads] if w.release.reads else list(table.c)
        try:
            while not self.stopping.is_set():
                op = rng.choice(("insert", "select", "update", "update"))
                started, ok = time.monotonic(), False
                try:
                    with engine.begin() as conn:
                        if op == "insert":
                            values = {c: make(rng, -1) for c, make in w.release.values.items()}
                            new_key = conn.execute(table.insert().values(values).returning(key)).scalar_one()
                            w.inserted.append(int(new_key))
                        elif op == "select":
                            conn.execute(sa.select(*cols).where(key == rng.randint(1, w.max_key))).fetchall()
                        else:
                            k = self._my_key(rng, w)
                            column = rng.choice(list(w.release.values))
                            value = w.release.values[column](rng, k)
                            conn.execute(table.update().where(key == k).values({column: value}))
                            w.written.setdefault(k, {})[column] = value
                    ok = True
                except Exception as exc:  # every app error counts; nothing is retried
                    w.errors.append(f"{w.release.name} {op}: {str(getattr(exc, 'orig', exc)).splitlines()[0]}")
                w.timings.append((started, time.monotonic() - started, ok))
                with self.cond:
                    w.ops += 1
                    self.cond.notify_all()
        finally:
            engine.dispose()

    @staticmethod
    def _my_key(rng: random.Random, w: Worker) -> int:
        """A random key of the seeded rows that only this worker updates (worker numbers start at 1)."""
        return w.number + w.workers * rng.randint(0, (w.max_key - w.number) // w.workers)
