"""When to stop between batches, and why: each signal returns a reason or None.

A backfill writes as fast as the database lets it, which is exactly what starves replicas, vacuum and
the application. So between batches we read signals: replica replay lag, long transactions (dead rows
we create cannot be vacuumed behind them), an anti-wraparound vacuum on our table (it must not be
cancelled or slowed), and the user's own SQL or Python health check. Sessions waiting on our row locks
are read inside each batch (see engine.py), since between batches we hold none.

A signal that cannot be read is not a green light: after `signal_timeout_s` of failures the backfill
waits with the reason shown (fail closed).
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from expandcontract.backfill.errors import BackfillInputError
from expandcontract.config import BackfillConfig

Reader = Callable[[Any], str | None]


@dataclass
class LagTracker:
    """Replica lag in seconds, measured on the primary even when a standby has stopped replaying.

    `replay_lag` in pg_stat_replication only moves when the standby reports progress; a stuck standby
    keeps its last (small) value. So we also remember when each WAL position was current on the primary:
    a standby's lag is at least the age of the oldest position we saw that it has not replayed yet.
    """

    samples: deque[tuple[float, int]] = field(default_factory=deque)

    def observe(
        self, now: float, current_lsn: int, standbys: list[tuple[str, int | None, float | None]]
    ) -> list[tuple[str, float]]:
        self.samples.append((now, current_lsn))
        lags: list[tuple[str, float]] = []
        for name, replay_lsn, reported in standbys:
            replayed = replay_lsn if replay_lsn is not None else -1
            oldest = next((t for t, lsn in self.samples if lsn > replayed), None)
            measured = now - oldest if oldest is not None else 0.0
            lags.append((name, max(measured, reported or 0.0)))
        floor = min((s[1] if s[1] is not None else -1 for s in standbys), default=current_lsn)
        while len(self.samples) > 1 and self.samples[0][1] <= floor:
            self.samples.popleft()
        while len(self.samples) > 10_000:
            self.samples.popleft()
        return lags


def replica_lag(max_lag_s: float, clock: Callable[[], float] = time.monotonic) -> Reader:
    tracker = LagTracker()

    def read(conn: Any) -> str | None:
        # One row per standby; the LEFT JOIN keeps the primary's WAL position when there is none, and that
        # row (r.pid NULL) is not a standby: a server without standbys has no lag signal.
        rows = conn.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, r.pid, "
            "COALESCE(r.application_name, '') || '@' || COALESCE(host(r.client_addr), 'local'), "
            "pg_wal_lsn_diff(r.replay_lsn, '0/0')::bigint, extract(epoch FROM r.replay_lag)::float8 "
            "FROM (SELECT 1) one LEFT JOIN pg_stat_replication r ON true"
        ).fetchall()
        conn.rollback()
        standbys = [(r[2], r[3], r[4]) for r in rows if r[1] is not None]
        lags = tracker.observe(clock(), int(rows[0][0]), standbys)
        worst = max(lags, key=lambda x: x[1], default=None)
        if worst is not None and worst[1] > max_lag_s:
            return f"replica {worst[0]} is {worst[1]:.1f} s behind (max_replica_lag_s = {max_lag_s:g})"
        return None

    return read


def long_transactions(max_age_s: float) -> Reader:
    def read(conn: Any) -> str | None:
        row = conn.execute(
            "SELECT pid, extract(epoch FROM now() - xact_start)::float8, coalesce(application_name, '') "
            "FROM pg_stat_activity "
            "WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
            "AND now() - xact_start > make_interval(secs => %s) ORDER BY xact_start LIMIT 1",
            (max_age_s,),
        ).fetchone()
        conn.rollback()
        if row is None:
            return None
        return (
            f"transaction of pid {row[0]} ({row[2] or 'no application_name'}) open for {row[1]:.0f} s "
            f"(max_transaction_age_s = {max_age_s:g}): "
            "vacuum cannot remove the rows the backfill rewrites"
        )

    return read


def wraparound_vacuum(table_oid: int) -> Reader:
    def read(conn: Any) -> str | None:
        row = conn.execute(
            "SELECT p.pid FROM pg_stat_progress_vacuum p JOIN pg_stat_activity a ON a.pid = p.pid "
            "WHERE p.relid = %s AND a.query ILIKE '%%to prevent wraparound%%' LIMIT 1",
            (table_oid,),
        ).fetchone()
        conn.rollback()
        if row is None:
            return None
        return f"anti-wraparound vacuum (pid {row[0]}) is running on the table; it must not be slowed or cancelled"

    return read


def health_sql(query: str) -> Reader:
    """The query returns one value: NULL/true (or no row) = go; false or a text = wait (text is the reason)."""

    def read(conn: Any) -> str | None:
        try:
            row = conn.execute(query).fetchone()
        finally:
            conn.rollback()
        return _verdict(row[0] if row else None, "health_check_sql")

    return read


def health_callable(spec: str) -> Reader:
    """`module:function`, called with no arguments; returns None/True = go, False or a text = wait."""
    module_name, _, attr = spec.partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise BackfillInputError(
            f"health_check = {spec!r} cannot be imported ({exc}); give it as 'package.module:function'"
        ) from None

    def read(conn: Any) -> str | None:
        return _verdict(fn(), f"health check {spec}")

    return read


def _verdict(value: Any, what: str) -> str | None:
    if value is None or value is True:
        return None
    if value is False:
        return f"{what} says wait"
    text = str(value).strip()
    return f"{what}: {text}" if text else None


@dataclass
class Throttle:
    """Reads every signal; a signal failing for longer than `timeout_s` becomes a reason to wait."""

    signals: dict[str, Reader]
    timeout_s: float
    clock: Callable[[], float] = time.monotonic
    failing_since: dict[str, float] = field(default_factory=dict)

    def check(self, conn: Any) -> str | None:
        reasons: list[str] = []
        for name, read in self.signals.items():
            try:
                reason = read(conn)
            except Exception as exc:
                if isinstance(exc, psycopg.OperationalError) and (conn.closed or conn.broken):
                    raise  # the connection itself is gone: the engine reconnects
                _rollback(conn)
                since = self.failing_since.setdefault(name, self.clock())
                unreadable = self.clock() - since
                if unreadable > self.timeout_s:
                    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    reasons.append(f"signal {name} unreadable for {unreadable:.0f} s ({msg}): waiting (fail closed)")
                continue
            self.failing_since.pop(name, None)
            if reason:
                reasons.append(reason)
        return "; ".join(reasons) or None


@dataclass
class Shared:
    """One throttle for the N workers of one process: the signals are read at most once per `interval_s`
    (by whichever worker asks first, on its own connection), and every worker gets that verdict."""

    inner: Throttle
    interval_s: float
    clock: Callable[[], float] = time.monotonic
    lock: threading.Lock = field(default_factory=threading.Lock)
    read_at: float | None = None
    reason: str | None = None

    def check(self, conn: Any) -> str | None:
        with self.lock:
            now = self.clock()
            if self.read_at is None or now - self.read_at >= self.interval_s:
                self.reason = self.inner.check(conn)  # raises on a lost connection: read_at stays old
                self.read_at = now
            return self.reason


def _rollback(conn: Any) -> None:
    with contextlib.suppress(psycopg.Error):
        conn.rollback()


def from_config(cfg: BackfillConfig, table_oid: int, extra: dict[str, Reader] | None = None) -> Throttle:
    signals: dict[str, Reader] = {
        "replica_lag": replica_lag(cfg.max_replica_lag_s),
        "long_transactions": long_transactions(cfg.max_transaction_age_s),
        "wraparound_vacuum": wraparound_vacuum(table_oid),
    }
    if cfg.health_check_sql:
        signals["health_check_sql"] = health_sql(cfg.health_check_sql)
    if cfg.health_check:
        signals["health_check"] = health_callable(cfg.health_check)
    signals.update(extra or {})
    return Throttle(signals, cfg.signal_timeout_s)


# pg_blocking_pids() takes the lock manager's locks: call it only for sessions that wait on a lock.
WAITERS_SQL = (
    "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND "
    "CASE WHEN wait_event_type = 'Lock' THEN pg_backend_pid() = ANY(pg_blocking_pids(pid)) ELSE false END"
)
