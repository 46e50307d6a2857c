"""What a running process tells the world, about once a second: rate, batch size and rows done into the
backfill row (for `backfill status` in another terminal) and one progress event to the display or to the
runner's hook. State changes (throttled, paused, done) are published at once."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from expandcontract.backfill import checkpoint
from expandcontract.names import SCHEMA

Event = dict[str, Any]
ProgressHook = Callable[[Event], None]


@dataclass
class Stats:
    """This process's work: rows, batches, batch times, and the rate over the last ~10 s."""

    rows: int = 0
    batches: int = 0
    window: list[tuple[float, int]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def add(self, now: float, rows: int, elapsed: float) -> None:
        self.rows += rows
        self.batches += 1
        self.times.append(elapsed)
        self.window.append((now, self.rows))
        while len(self.window) > 2 and now - self.window[0][0] > 10:
            self.window.pop(0)

    def rate(self) -> float:
        if len(self.window) < 2:
            return 0.0
        (t0, r0), (t1, r1) = self.window[0], self.window[-1]
        return (r1 - r0) / (t1 - t0) if t1 > t0 else 0.0


@dataclass
class Heartbeat:
    name: str
    worker: str
    progress: ProgressHook
    every_s: float = 1.0
    stats: Stats = field(default_factory=Stats)
    last: float = 0.0
    # Shared by the workers of one process (pool.py): each puts its own rate in, the row gets the sum.
    rates: dict[str, float] | None = None

    def beat(
        self, conn: Any, batch_size: int, reason: str | None, *, force: bool = False, state: str | None = None
    ) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.every_s:
            return
        self.last = now
        done, estimate = self.stats.rows, None
        rate = self.stats.rate()
        if self.rates is not None:
            self.rates[self.worker] = rate
            rate = sum(self.rates.values())
        if conn is not None and not conn.closed and not conn.broken:
            try:
                done = checkpoint.totals(conn, self.name)[0]
                row = conn.execute(
                    f"UPDATE {SCHEMA}.backfills SET rate = %s, batch_size = %s, rows_done = %s, updated_at = now() "
                    "WHERE name = %s RETURNING rows_estimate",
                    (rate, batch_size, done, self.name),
                ).fetchone()
                conn.commit()
                estimate = row[0] if row else None
            except psycopg.OperationalError:
                # a lost connection: the engine notices on its next statement; a timeout: skip this beat
                with contextlib.suppress(psycopg.Error):
                    conn.rollback()
        eta = max(0.0, (estimate - done) / rate) if estimate is not None and rate > 0 else None
        self.progress(
            {
                "name": self.name,
                "rows_done": done,
                "rows_estimate": estimate,
                "rate": rate,
                "eta_s": eta,
                "batch_size": batch_size,
                "throttled_reason": reason,
                "state": state or ("throttled" if reason else "running"),
                "worker": self.worker,
            }
        )
