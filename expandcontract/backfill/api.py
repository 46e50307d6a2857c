"""Entry points: run a backfill to completion (the op, in `run migrate`) and join one as a worker.

Both register nothing twice and trust only the checkpoint: `run` registers the backfill (or picks up the
existing row, taking fixed SQL) and works until every range is done; `work` joins a registered backfill
and leaves when nothing is left to claim.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import Any

from expandcontract.backfill import checkpoint, spec, throttle
from expandcontract.backfill.engine import Engine, Options, Result
from expandcontract.backfill.errors import BackfillCancelled, BackfillInputError
from expandcontract.backfill.heartbeat import ProgressHook
from expandcontract.backfill.progress import default_display
from expandcontract.config import BackfillConfig
from expandcontract.db.connect import connect

BatchGuard = Callable[[Any], None]


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def register(url: str, s: spec.Spec) -> tuple[spec.Plan, dict[str, Any]]:
    """Validate `s` and insert its checkpoint row if new (upper bound fixed now). Touches no data row."""
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
            estimate = spec.estimate_rows(conn, p) if upper is not None else 0
        row = checkpoint.register(conn, p.definition(), upper, estimate)
    return p, row


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
    p, row = register(url, s)
    if row["status"] == "done":
        event = {"name": p.name, "rows_done": 0, "rows_estimate": row["rows_estimate"], "rate": 0.0}
        _emit(progress, {**event, "eta_s": 0.0, "batch_size": 0, "throttled_reason": None, "state": "done"})
        return Result(p.name, 0, 0, "done")
    return _engine(url, p, config, progress, worker or default_worker_id(), wait_for_others=True, guard=batch_guard)


def work(
    url: str,
    name: str,
    config: BackfillConfig,
    progress: ProgressHook | None = None,
    *,
    worker: str | None = None,
    wait_s: float = 0.0,
) -> Result:
    """Join the registered backfill `name` and work ranges until none is left to claim."""
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
        p = spec.from_row(conn, row)
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
        opts = Options(
            config=config, worker=worker, progress=progress, wait_for_others=wait_for_others, batch_guard=guard
        )
        return Engine(url, p, t, opts).run()
    finally:
        if display is not None:
            display.close()


def _emit(progress: ProgressHook | None, event: dict[str, Any]) -> None:
    if progress is not None:
        progress(event)
