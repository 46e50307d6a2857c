"""The batch loop: claim a key range, then walk it in keyset batches, each committed with its checkpoint.

One batch is one transaction: lock the range row and read its cursor (so two processes can never do the
same keys), find the batch's upper key with an index probe, UPDATE that key range, count the sessions
waiting on our row locks, move the cursor, commit. Between batches: the pause/cancel flag, the throttle
signals, the progress display. A lost connection or a restarted server is retried with backoff and the
loop picks up from the committed checkpoint.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
from psycopg import errors as pgerrors

from expandcontract.backfill import checkpoint, locks, observe, ranges, sizing
from expandcontract.backfill.errors import BackfillCancelled, BackfillFailed
from expandcontract.backfill.heartbeat import Heartbeat, ProgressHook
from expandcontract.backfill.ranges import Range
from expandcontract.backfill.spec import Plan
from expandcontract.backfill.throttle import WAITERS_SQL
from expandcontract.config import BackfillConfig
from expandcontract.db.connect import connect
from expandcontract.errors import DatabaseUnreachable
from expandcontract.names import SCHEMA

MAX_TIMEOUTS_AT_MIN = 5
MIN_THROTTLE_WAIT_S = 0.05  # while throttled, re-read no sooner (check_interval_s = 0: before every batch)
_TRANSIENT = (
    pgerrors.QueryCanceled,
    pgerrors.LockNotAvailable,
    pgerrors.DeadlockDetected,
    pgerrors.SerializationFailure,
)
NARROWING_GIVES_UP_AFTER = 64  # successful batches after a failure before sizing by time again
_REQUESTED = f"SELECT requested FROM {SCHEMA}.backfills WHERE name = %s"


class Checker(Protocol):
    """The throttle (throttle.Throttle, or throttle.Shared for the workers of one process)."""

    def check(self, conn: Any) -> str | None: ...


@dataclass
class Options:
    config: BackfillConfig
    worker: str
    progress: ProgressHook
    wait_for_others: bool = True  # the op waits for the whole backfill; a worker leaves when none is left
    poll_s: float = 0.5
    heartbeat_s: float = 1.0
    batch_guard: Callable[[psycopg.Connection[Any]], None] | None = None  # first thing in each batch's transaction
    stop: threading.Event | None = None  # set by pool.py when a sibling worker failed or was interrupted
    rates: dict[str, float] | None = None  # shared by the workers of one process (heartbeat.py)


@dataclass
class Result:
    name: str
    rows_done: int  # by this process
    batches: int
    state: str  # "done" | "finished-share" | "stopped"
    batch_times: list[float] = field(default_factory=list)  # seconds per committed batch, this process


class Engine:
    def __init__(self, url: str, plan: Plan, throttle: Checker, options: Options) -> None:
        cfg = options.config
        self.url = url
        self.plan = plan
        self.throttle = throttle
        self.opts = options
        target_ms = plan.batch_time_ms or cfg.batch_time_ms
        cap = sizing.table_cap(cfg.max_batch_size, cfg.min_batch_size, cfg.max_batch_fraction, plan.table.rows)
        self.limits = sizing.Limits(target_ms / 1000.0, cfg.min_batch_size, cap)
        self.size = max(cfg.min_batch_size, min(cap, cfg.initial_batch_size))
        self.conn: psycopg.Connection[Any] | None = None
        self.range: Range | None = None
        self.beat = Heartbeat(plan.name, options.worker, options.progress, options.heartbeat_s, rates=options.rates)
        self.stats = self.beat.stats
        self.reason: str | None = None
        self.timeouts_at_min = 0
        self.narrowing = False
        self.narrowed_ok = 0
        self.last_check = 0.0
        self.started = False

    # -- connection -------------------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection[Any]:
        deadline = time.monotonic() + self.opts.config.reconnect_timeout_s
        attempt = 0
        while True:
            try:
                conn = connect(self.url, prepare_threshold=None)
                name = f"expandcontract backfill {self.plan.name}"[:63]
                conn.execute("SELECT set_config('application_name', %s, false)", (name,))
                conn.execute("SET expandcontract.backfill = 'on'")
                # Each batch commits with its checkpoint, so a commit lost in a crash loses both together:
                # the batch is simply redone. No need to wait for the WAL flush on every batch; the
                # revision's own commit in Alembic flushes everything before it.
                conn.execute("SET synchronous_commit = off")
                conn.execute(f"SET statement_timeout = {self.limits.statement_timeout_ms}")
                conn.commit()
                locks.join_backfill(conn, self.plan.name)
                conn.commit()
                if attempt:
                    self._say(None, force=True)
                return conn
            except (DatabaseUnreachable, psycopg.OperationalError) as exc:
                attempt += 1
                if time.monotonic() > deadline:
                    raise DatabaseUnreachable(
                        f"backfill {self.plan.name}: lost the database and could not reconnect within "
                        f"{self.opts.config.reconnect_timeout_s:g} s ({exc}); re-run to resume from the checkpoint"
                    ) from None
                delay = min(5.0, 0.2 * 2**attempt) * (0.5 + random.random() / 2)
                self._say(f"database unreachable, reconnecting (attempt {attempt})", force=True)
                time.sleep(delay)

    def _drop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
        self.conn = None
        self.range = None

    # -- main loop --------------------------------------------------------------------------------------
    def run(self) -> Result:
        failing_since: float | None = None  # when the current run of failed steps began
        try:
            while True:
                try:
                    if self.conn is None:
                        self.conn = self._connect()
                    done = self._step(self.conn)
                    failing_since = None
                    if done is not None:
                        return done
                except psycopg.OperationalError as exc:
                    now = time.monotonic()
                    failing_since = now if failing_since is None else failing_since
                    if now - failing_since > self.opts.config.reconnect_timeout_s:
                        # bounded: a step that keeps failing (a lock on our rows that never clears, a
                        # connection that drops after every reconnect) ends the run; the checkpoint stays
                        raise BackfillFailed(
                            f"backfill {self.plan.name}: every step failed for {now - failing_since:.0f} s "
                            f"(reconnect_timeout_s = {self.opts.config.reconnect_timeout_s:g}), last: {_msg(exc)}; "
                            "re-run to resume from the checkpoint"
                        ) from None
                    if self.conn is not None and not (self.conn.closed or self.conn.broken):
                        if not isinstance(exc, _TRANSIENT):
                            raise BackfillFailed(f"backfill {self.plan.name}: {_msg(exc)}") from None
                        # a lock or timeout on our own bookkeeping rows: roll back, retry the step
                        self.conn.rollback()
                        time.sleep(self.opts.poll_s)
                        continue
                    self._drop()
                    self._say(f"connection lost ({_msg(exc)}); reconnecting", force=True)
        finally:
            self._drop()

    def _stopped(self) -> bool:
        return self.opts.stop is not None and self.opts.stop.is_set()

    def _step(self, conn: psycopg.Connection[Any]) -> Result | None:
        if self._stopped():  # between batches: nothing is half-done, the checkpoint is exact
            return Result(self.plan.name, self.stats.rows, self.stats.batches, "stopped", self.stats.times)
        if not self.started:
            self._start(conn)
        if self._throttled(conn):
            self._control(conn, None)  # pause and cancel still work while throttled
            return None
        if self.range is None:
            if self._control(conn, None):
                return None
            self.range = ranges.claim(conn, self.plan, self.opts.worker, self.opts.config.range_rows)
            if self.range is None:
                return self._nothing_to_claim(conn)
        self._batch(conn, self.range)
        return None

    def _start(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(
            f"UPDATE {SCHEMA}.backfills SET status = 'running', error = NULL, "
            "started_at = COALESCE(started_at, now()), updated_at = now() "
            "WHERE name = %s AND status IN ('pending', 'failed', 'paused') AND requested IS NULL",
            (self.plan.name,),
        )
        conn.commit()
        self.started = True

    def _nothing_to_claim(self, conn: psycopg.Connection[Any]) -> Result | None:
        finished, open_ranges = ranges.all_carved_and_done(conn, self.plan.name)
        if finished:
            conn.execute(
                f"UPDATE {SCHEMA}.backfills SET status = 'done', finished_at = now(), throttled_reason = NULL, "
                "updated_at = now() WHERE name = %s AND status <> 'done'",
                (self.plan.name,),
            )
            conn.commit()
            self._say(None, force=True, state="done")
            return Result(self.plan.name, self.stats.rows, self.stats.batches, "done", self.stats.times)
        if not self.opts.wait_for_others:
            return Result(self.plan.name, self.stats.rows, self.stats.batches, "finished-share", self.stats.times)
        self._say(f"waiting for {open_ranges} range(s) held by other workers", force=False)
        time.sleep(self.opts.poll_s)
        return None

    # -- one batch --------------------------------------------------------------------------------------
    def _batch(self, conn: psycopg.Connection[Any], r: Range) -> None:
        p = self.plan
        t0 = time.monotonic()
        if self.opts.batch_guard is not None:  # e.g. the runner still holds its lock (in this transaction)
            self.opts.batch_guard(conn)
        row = conn.execute(
            f"SELECT r.cursor_key, r.done, b.requested FROM {SCHEMA}.backfill_ranges r "
            f"JOIN {SCHEMA}.backfills b ON b.name = r.name WHERE r.name = %s AND r.range_no = %s FOR UPDATE OF r",
            (p.name, r.range_no),
        ).fetchone()
        assert row is not None, f"range {r.range_no} of {p.name} vanished"
        cursor, done, requested = row
        if requested is not None or done:
            conn.rollback()
            if done:
                self._release(conn, r)
            else:
                self._control(conn, requested)
            return
        size = self.size
        try:
            found = conn.execute(p.probe(cursor, r.upper, size)).fetchone()
            upper = list(found) if found is not None else r.upper
            updated = conn.execute(p.update(cursor, upper)).rowcount
            waiters = int(_one(conn.execute(WAITERS_SQL).fetchone()))
            last = upper == r.upper
            conn.execute(
                f"UPDATE {SCHEMA}.backfill_ranges SET cursor_key = %s, rows_done = rows_done + %s, "
                "batches = batches + 1, done = %s, updated_at = now() WHERE name = %s AND range_no = %s",
                (upper, updated, last, p.name, r.range_no),
            )
            conn.commit()
        except pgerrors.QueryCanceled:
            conn.rollback()
            self._timed_out(cursor, size)
            return
        except (pgerrors.DeadlockDetected, pgerrors.SerializationFailure):
            conn.rollback()
            self.size = sizing.after_timeout(size, self.limits)
            return
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            conn.rollback()
            self._failed(conn, cursor, r, size, exc)
            return
        elapsed = time.monotonic() - t0
        self.timeouts_at_min = 0
        self.stats.add(time.monotonic(), max(0, updated), elapsed)
        observe.batch(p.name, max(0, updated), elapsed, size)
        if self.narrowing:
            self.narrowed_ok += 1
            if self.narrowed_ok > NARROWING_GIVES_UP_AFTER:  # the failure did not come back: not row-specific
                self.narrowing, self.narrowed_ok = False, 0
            self.size = max(1, size)
        else:
            self.size = sizing.next_size(size, elapsed, self.limits)
        if last:
            self._release(conn, r)
        if waiters > self.opts.config.max_waiting_sessions:
            self.size = sizing.after_timeout(self.size, self.limits)
            self._wait_reason(f"{waiters} session(s) waited on the backfill's row locks", self.limits.target_s)
        elif self.opts.config.sleep_ms:
            time.sleep(self.opts.config.sleep_ms / 1000)
        self._say(None)

    def _release(self, conn: psycopg.Connection[Any], r: Range) -> None:
        locks.release_range(conn, self.plan.name, r.range_no)
        conn.commit()
        self.range = None

    def _timed_out(self, cursor: list[str] | None, size: int) -> None:
        if size <= self.limits.min_size:
            self.timeouts_at_min += 1
            if self.timeouts_at_min >= MAX_TIMEOUTS_AT_MIN:
                raise BackfillFailed(
                    f"backfill {self.plan.name}: batches of {size} rows after key {_key(cursor)} exceeded the "
                    f"statement_timeout ({self.limits.statement_timeout_ms} ms) {self.timeouts_at_min} times; "
                    "another session may hold locks on those rows, or the SQL is slow per row. Raise "
                    "batch_time_ms or fix the cause, then re-run to resume from the checkpoint"
                )
        self.size = sizing.after_timeout(size, self.limits)
        self._say(f"batch of {size} rows exceeded {self.limits.statement_timeout_ms} ms; halved", force=True)

    def _failed(
        self, conn: psycopg.Connection[Any], cursor: list[str] | None, r: Range, size: int, exc: psycopg.Error
    ) -> None:
        if size > 1:  # narrow down to the first failing row; the rows before it are fine and get committed
            self.narrowing = True
            self.size = size // 2
            return
        found = conn.execute(self.plan.probe(cursor, r.upper, 1)).fetchone()
        conn.rollback()
        bad = list(found) if found is not None else r.upper
        cols = ", ".join(self.plan.key.columns)
        message = (
            f"backfill {self.plan.name} failed on {self.plan.table.display} at ({cols}) = {_key(bad)} "
            f"(key range after {_key(cursor)}): {_msg(exc)}. The checkpoint is kept: rows before this one are "
            "done. Fix the values/where SQL (or the row), then re-run to resume from the checkpoint"
        )
        checkpoint.set_fields(conn, self.plan.name, status="failed", error=message)
        raise BackfillFailed(message)

    # -- between batches --------------------------------------------------------------------------------
    def _control(self, conn: psycopg.Connection[Any], requested: str | None) -> bool:
        """Handle pause/cancel. True if the loop must re-check before doing work."""
        if requested is None:
            row = conn.execute(
                f"SELECT requested FROM {SCHEMA}.backfills WHERE name = %s", (self.plan.name,)
            ).fetchone()
            conn.commit()
            requested = row[0] if row else None
        if requested is None:
            return False
        if requested == "cancel":
            totals = checkpoint.totals(conn, self.plan.name)[0]
            checkpoint.set_fields(conn, self.plan.name, status="cancelled", throttled_reason=None)
            self._say(None, force=True, state="cancelled")
            raise BackfillCancelled(
                f"backfill {self.plan.name} was cancelled ({totals} rows done, checkpoint kept); "
                f"`expandcontract backfill resume {self.plan.name}` then re-run to continue from the checkpoint"
            )
        reason = f"paused; resume with `expandcontract backfill resume {self.plan.name}`"
        checkpoint.set_fields(conn, self.plan.name, status="paused", throttled_reason=reason)
        self.reason = reason
        self._say(reason, force=True, state="paused")
        while True:
            time.sleep(self.opts.poll_s)
            row = conn.execute(
                f"SELECT requested FROM {SCHEMA}.backfills WHERE name = %s", (self.plan.name,)
            ).fetchone()
            conn.commit()
            if row is None or row[0] != "pause" or self._stopped():
                break
            self._say(reason, state="paused")
        if row is not None and row[0] is None:
            checkpoint.set_fields(conn, self.plan.name, status="running", throttled_reason=None)
            self.reason = None
            self._say(None, force=True, state="running")
        return True

    def _throttled(self, conn: psycopg.Connection[Any]) -> bool:
        now = time.monotonic()
        if now - self.last_check < self.opts.config.check_interval_s:
            return False
        self.last_check = now
        reason = self.throttle.check(conn)
        if reason is None:
            if self.reason is not None:
                self.reason = None
                checkpoint.set_fields(conn, self.plan.name, throttled_reason=None)
                self._say(None, force=True)
            return False
        self._wait_reason(reason, max(self.opts.config.check_interval_s, MIN_THROTTLE_WAIT_S))
        self.last_check = 0.0  # re-check right after the wait
        return True

    def _wait_reason(self, reason: str, wait_s: float) -> None:
        assert self.conn is not None
        if reason != self.reason:
            checkpoint.set_fields(self.conn, self.plan.name, throttled_reason=reason)
            self.reason = reason
            self._say(reason, force=True)
        time.sleep(wait_s)

    # -- progress ---------------------------------------------------------------------------------------
    def _say(self, reason: str | None, *, force: bool = False, state: str | None = None) -> None:
        self.beat.beat(self.conn, self.size, reason, force=force, state=state)


def _one(row: Any) -> Any:
    assert row is not None
    return row[0]


def _msg(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or str(exc).strip().splitlines()[0] if str(exc).strip() or primary else type(exc).__name__
    return str(text)


def _key(values: list[str] | None) -> str:
    if values is None:
        return "(start)"
    return "(" + ", ".join(values) + ")" if len(values) > 1 else values[0]
