"""Entry points: run a backfill to completion (the op, in `run migrate`) and join one as a worker.

Both register nothing twice and take their SQL from the revision only: `run` registers the backfill (or
picks up the existing row's progress) and works until every range is done; `work` joins a registered
backfill with the SQL of the revision it loaded and leaves when nothing is left to claim.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from expandcontract.backfill import checkpoint, observe, pool, spec, sqlcheck, throttle
from expandcontract.backfill.engine import Engine, Options, Result
from expandcontract.backfill.errors import BackfillCancelled, BackfillInputError
from expandcontract.backfill.heartbeat import ProgressHook
from expandcontract.backfill.progress import default_display
from expandcontract.config import BackfillConfig
from expandcontract.db.connect import connect
from expandcontract.names import SCHEMA

MAX_WORKERS = 64

BatchGuard = Callable[[Any], None]


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def register(url: str, s: spec.Spec) -> tuple[spec.Plan, dict[str, Any]]:
    """Validate `s` and insert its checkpoint row if new (upper bound fixed now). Touches no data row."""
    sqlcheck.check_arguments(s.values, s.where)  # before the first connection: nothing is created for a payload
    with connect(url) as conn:
        checkpoint.ensure_schema(conn)
        p = spec.plan(conn, s)
        existing = checkpoint.load(conn, s.name)
        conn.commit()
        if existing is not None:
            _same_target(existing, p)
            _same_sql_if_done(existing, p)
            upper, estimate = existing["upper_bound"], existing["rows_estimate"]
        else:
            found = conn.execute(p.max_key()).fetchone()
            upper = list(found) if found is not None else None
            estimate = None if upper is not None else 0  # estimated beside the first batches: _estimate_later
        row = checkpoint.register(conn, p.definition(), upper, estimate)
    return p, row


def _estimate_later(url: str, p: spec.Plan) -> threading.Thread:
    """The row estimate (for progress and ETA only) on a connection of its own, while the batches start:
    it may ANALYZE the table or the new column first, which takes seconds on a big cold table, and no
    batch needs to wait for that. The heartbeat picks the figure up from the backfill row."""

    def target() -> None:
        with contextlib.suppress(Exception), connect(url) as conn:  # best effort: progress without an ETA
            estimate = spec.estimate_rows(conn, p)
            conn.execute(
                f"UPDATE {SCHEMA}.backfills SET rows_estimate = %s WHERE name = %s AND rows_estimate IS NULL",
                (estimate, p.name),
            )
            conn.commit()

    thread = threading.Thread(target=target, name=f"estimate {p.name}", daemon=True)
    thread.start()
    return thread


def _same_target(row: dict[str, Any], p: spec.Plan) -> None:
    if (row["table_schema"], row["table_name"], tuple(row["key_columns"])) != (
        p.table.schema,
        p.table.name,
        p.key.columns,
    ):
        raise BackfillInputError(
            f"backfill {p.name} is registered for {row['table_schema']}.{row['table_name']} "
            f"({', '.join(row['key_columns'])}) but now targets {p.table.display} ({', '.join(p.key.columns)}); "
            "give this op.backfill() another name="
        )


def _same_sql_if_done(row: dict[str, Any], p: spec.Plan) -> None:
    """A finished backfill re-run is a no-op, so different SQL under the same name would silently not run."""
    if row["status"] == "done" and (row["set_values"], row["where_sql"]) != (p.values, p.where):
        raise BackfillInputError(
            f"backfill {p.name} already finished with values={row['set_values']!r}, where={row['where_sql']!r}; "
            f"this op.backfill() has values={p.values!r}, where={p.where!r}. Give it its own name=..."
        )


def run(
    url: str,
    s: spec.Spec,
    config: BackfillConfig,
    progress: ProgressHook | None = None,
    *,
    worker: str | None = None,
    batch_guard: BatchGuard | None = None,
) -> Result:
    """Run the backfill to completion in this process (other workers may help). Re-runs resume.
    `batch_guard(conn)` runs first in each batch's transaction (the runner checks its lock there)."""
    if not 1 <= config.workers <= MAX_WORKERS:
        raise BackfillInputError(
            f"backfill workers = {config.workers}: give 1 to {MAX_WORKERS} ([tool.expandcontract.backfill] workers, "
            "or `run migrate --workers N`)"
        )
    p, row = register(url, s)
    if row["status"] == "done":
        event = {"name": p.name, "rows_done": 0, "rows_estimate": row["rows_estimate"], "rate": 0.0}
        _emit(progress, {**event, "eta_s": 0.0, "batch_size": 0, "throttled_reason": None, "state": "done"})
        return Result(p.name, 0, 0, "done")
    if row["rows_estimate"] is None:
        _estimate_later(url, p)
    return _engine(url, p, config, progress, worker or default_worker_id(), wait_for_others=True, guard=batch_guard)


def work(
    url: str,
    s: spec.Spec,
    config: BackfillConfig,
    progress: ProgressHook | None = None,
    *,
    worker: str | None = None,
    wait_s: float = 0.0,
) -> Result:
    """Join the registered backfill `s.name` and work ranges until none is left to claim.

    `s` comes from the revision files (declared.py), never from the checkpoint row: the row only says how
    far the backfill got, and a row whose SQL differs from the revision's is refused, not run."""
    name = s.name
    deadline = time.monotonic() + wait_s
    with connect(url) as conn:
        checkpoint.ensure_schema(conn)
        while True:
            row = checkpoint.load(conn, name)
            conn.commit()
            if row is not None or time.monotonic() >= deadline:
                break
            time.sleep(1.0)
        if row is None:
            raise BackfillInputError(
                f"no backfill named {name!r} in this database; it is registered when `expandcontract run migrate` "
                "reaches its op.backfill(...) (see `expandcontract backfill status`), or pass --wait"
            )
        if row["status"] == "cancelled" and row["requested"] == "cancel":
            raise BackfillCancelled(f"backfill {name} is cancelled; `expandcontract backfill resume {name}` first")
        p = spec.plan(conn, s)
        _same_target(row, p)
        if (row["set_values"], row["where_sql"]) != (p.values, p.where):
            raise BackfillInputError(
                f"backfill {name} is registered with values={row['set_values']!r}, where={row['where_sql']!r} but "
                f"this checkout's revision has values={p.values!r}, where={p.where!r}; run the worker from the "
                "same release as `run migrate` (the worker runs only its revision's SQL)"
            )
    if row["status"] == "done":
        return Result(name, 0, 0, "done")
    return _engine(url, p, config, progress, worker or default_worker_id(), wait_for_others=False)


def _engine(
    url: str,
    p: spec.Plan,
    config: BackfillConfig,
    progress: ProgressHook | None,
    worker: str,
    wait_for_others: bool,
    guard: BatchGuard | None = None,
) -> Result:
    display = None
    if progress is None:
        display = default_display()
        progress = display
    try:
        t = throttle.from_config(config, p.table.oid)
        if wait_for_others and config.workers > 1:  # `run migrate --workers N`; `backfill work` is one each
            return pool.run(
                url,
                p,
                throttle.Shared(t, config.check_interval_s),
                config,
                observe.tee(progress),
                worker,
                config.workers,
                batch_guard=guard,
            )
        opts = Options(
            config=config,
            worker=worker,
            progress=observe.tee(progress),
            wait_for_others=wait_for_others,
            batch_guard=guard,
        )
        return Engine(url, p, t, opts).run()
    finally:
        if display is not None:
            display.close()


def _emit(progress: ProgressHook | None, event: dict[str, Any]) -> None:
    if progress is not None:
        progress(event)
