"""Pause, resume, cancel and status from any process, through the checkpoint rows.

The flag (`requested`) is read by every process working on the backfill between batches; status reads
the rows and counts the live processes from their advisory locks, so a backfill whose process was killed
shows as "interrupted", never as "running".
"""

from __future__ import annotations

from typing import Any

from expandcontract.backfill import checkpoint, locks
from expandcontract.backfill.errors import BackfillInputError
from expandcontract.db.connect import connect
from expandcontract.names import SCHEMA

_STATUS = f"""
SELECT b.name, b.table_schema || '.' || b.table_name, b.key_columns, b.status, b.requested,
       b.throttled_reason, b.error, b.rows_estimate, b.rate, b.batch_size, b.upper_bound, b.frontier,
       b.created_at, b.started_at, b.updated_at, b.finished_at,
       COALESCE(sum(r.rows_done), 0)::bigint, count(r.range_no), count(r.range_no) FILTER (WHERE r.done)
FROM {SCHEMA}.backfills b LEFT JOIN {SCHEMA}.backfill_ranges r ON r.name = b.name
WHERE %s::text IS NULL OR b.name = %s
GROUP BY b.name ORDER BY b.created_at, b.name
"""


# Per worker id (HOST:PID/N for the workers of `run migrate --workers N`, or --worker-id): its ranges, rows,
# and whether it holds one of its unfinished ranges right now (the range's advisory lock, see locks.py).
_WORKERS = f"""
SELECT r.worker, count(*), count(*) FILTER (WHERE r.done), COALESCE(sum(r.rows_done), 0)::bigint,
       COALESCE(sum(r.batches), 0)::bigint, max(r.updated_at),
       bool_or(NOT r.done AND EXISTS (
           SELECT 1 FROM pg_locks l
           WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objsubid = 2
             AND l.objid::bigint = (hashtext(r.name || '#' || r.range_no)::bigint + 4294967296) %% 4294967296
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())))
FROM {SCHEMA}.backfill_ranges r WHERE r.name = %s GROUP BY r.worker ORDER BY r.worker
"""


def workers(conn: Any, name: str) -> list[dict[str, Any]]:
    rows = conn.execute(_WORKERS, (locks.RANGE_CLASS, name)).fetchall()
    return [
        {
            "worker": w,
            "ranges": int(n),
            "ranges_done": int(n_done),
            "rows_done": int(done),
            "batches": int(batches),
            "working": bool(working),
            "updated_at": _iso(updated),
        }
        for w, n, n_done, done, batches, updated, working in rows
    ]


def status(url: str, name: str | None = None) -> list[dict[str, Any]]:
    """One dict per backfill (JSON-ready). `state` adds liveness to the stored status; `workers` lists
    every worker that claimed a range of it (this process's and other machines')."""
    with connect(url) as conn:
        # read-only: never create tables (or take their locks) just to look
        rows = conn.execute(_STATUS, (name, name)).fetchall() if checkpoint.exists(conn) else []
        out = []
        for r in rows:
            live = locks.live_processes(conn, r[0])
            out.append({**_row(r, live), "workers": workers(conn, r[0])})
    if name is not None and not out:
        raise _unknown(url, name)
    return out


def _row(r: tuple[Any, ...], live: int) -> dict[str, Any]:
    (name, table, key, stored, requested, reason, error, estimate, rate, batch, upper, _frontier) = r[:12]
    created, started, updated, finished, rows_done, n_ranges, n_done = r[12:]
    state = stored
    if stored in ("running", "paused", "pending") and live == 0:
        state = "interrupted" if stored != "pending" else "pending"
    if requested == "pause" and stored not in ("done", "cancelled"):
        state = "paused" if live else "paused (no process running)"
    moving = bool(live) and not reason and state == "running"  # a waiting backfill has no rate and no ETA
    percent = 100.0 if stored == "done" else (min(99.9, 100.0 * rows_done / estimate) if estimate else None)
    return {
        "name": name,
        "table": table,
        "key": list(key),
        "state": state,
        "status": stored,
        "requested": requested,
        "live_processes": live,
        "rows_done": int(rows_done),
        "rows_estimate": estimate,
        "percent": percent,
        "rate": (rate or 0.0) if moving else 0.0,
        "eta_s": (max(0.0, (estimate - rows_done) / rate) if moving and rate and estimate else None),
        "batch_size": batch,
        "throttled_reason": reason if live else None,
        "error": error,
        "ranges": int(n_ranges),
        "ranges_done": int(n_done),
        "upper_bound": upper,
        "created_at": _iso(created),
        "started_at": _iso(started),
        "updated_at": _iso(updated),
        "finished_at": _iso(finished),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _unknown(url: str, name: str) -> BackfillInputError:
    with connect(url) as conn:
        names = []
        if checkpoint.exists(conn):
            names = [r[0] for r in conn.execute(f"SELECT name FROM {SCHEMA}.backfills ORDER BY name").fetchall()]
    known = f"known backfills: {', '.join(names)}" if names else "no backfill is registered in this database yet"
    return BackfillInputError(f"no backfill named {name!r}; {known}")


def request(url: str, name: str, action: str) -> dict[str, Any]:
    """Set the flag for `pause`, `cancel`, or clear it for `resume`. Returns the new status row."""
    value = {"pause": "pause", "cancel": "cancel", "resume": None}[action]
    with connect(url) as conn:
        if not checkpoint.exists(conn):
            raise _unknown(url, name)
        row = conn.execute(f"SELECT status FROM {SCHEMA}.backfills WHERE name = %s FOR UPDATE", (name,)).fetchone()
        if row is None:
            conn.rollback()
            raise _unknown(url, name)
        if row[0] == "done" and action != "resume":
            conn.rollback()
            raise BackfillInputError(f"backfill {name} is already done; there is nothing to {action}")
        if action == "resume" and row[0] in ("cancelled", "paused"):
            conn.execute(
                f"UPDATE {SCHEMA}.backfills SET requested = NULL, status = 'running', throttled_reason = NULL, "
                "updated_at = now() WHERE name = %s",
                (name,),
            )
        else:
            conn.execute(
                f"UPDATE {SCHEMA}.backfills SET requested = %s, updated_at = now() WHERE name = %s", (value, name)
            )
        conn.commit()
    return status(url, name)[0]
