"""Our own tables, in schema `expandcontract`: per-revision phase state and the audit log of runs.

`revision_state` rows are written by Alembic's `on_version_apply` hook inside each migration's own
transaction (insert on upgrade, delete on downgrade, cascades included), so they never disagree with
`alembic_version`. `runs` is the audit log: who ran which phase, when, which revisions, gate evidence
and the outcome.
"""

from __future__ import annotations

import getpass
import json
import socket
from typing import Any

from expandcontract.names import ADVISORY_LOCK_KEY, SCHEMA
from expandcontract.phases.resume import PROGRESS_DDL, forget

__all__ = [
    "ADVISORY_LOCK_KEY",
    "SCHEMA",
    "add_event",
    "ensure_schema_sql",
    "record_step",
    "runner_lock_holder",
    "schema_exists",
    "who",
]

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.revision_state (
    revision    text PRIMARY KEY,
    change      text,
    phase       text,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    applied_by  text NOT NULL DEFAULT current_user,
    run_id      bigint
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.runs (
    id           bigserial PRIMARY KEY,
    command      text NOT NULL,
    phase        text,
    change       text,
    started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at  timestamptz,
    os_user      text,
    host         text,
    db_user      text NOT NULL DEFAULT current_user,
    revisions    text[] NOT NULL DEFAULT '{{}}',
    gate         jsonb,
    skip_gate_reason text,
    outcome      text NOT NULL DEFAULT 'running',
    error        text,
    failed_revision text,
    events       jsonb NOT NULL DEFAULT '[]'
);
"""


def ensure_schema_sql() -> str:
    return DDL + PROGRESS_DDL


# The runner lock of THIS database (advisory locks are per database, but pg_locks shows the whole server).
RUNNER_LOCK_WHERE = (
    "l.locktype = 'advisory' AND l.classid = 0 AND l.objid = %s AND l.granted "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def runner_lock_holder(conn: Any) -> tuple[int, str, Any, str] | None:
    """(pid, application_name, backend_start, client) of the session holding this database's runner lock."""
    row = conn.execute(
        "SELECT a.pid, coalesce(a.application_name, ''), a.backend_start, coalesce(a.client_addr::text, 'local') "
        f"FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE {RUNNER_LOCK_WHERE}",
        (ADVISORY_LOCK_KEY,),
    ).fetchone()
    return (int(row[0]), str(row[1]), row[2], str(row[3])) if row else None


def schema_exists(conn: Any) -> bool:
    """Whether our tables exist (read-only commands look, never create them)."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.runs",)).fetchone()
    return bool(row and row[0])


def who() -> tuple[str, str]:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return user, socket.gethostname()


def record_step(
    conn: Any,
    *,
    revision_ids: tuple[str, ...],
    down_ids: tuple[str, ...],
    is_upgrade: bool,
    meta: dict[str, tuple[str | None, str | None]],
    run_id: int | None,
) -> None:
    """Apply one Alembic step to revision_state on `conn` (a SQLAlchemy connection in the step's
    transaction)."""
    from sqlalchemy import text

    if is_upgrade:
        for rid in revision_ids:
            change, phase = meta.get(rid, (None, None))
            conn.execute(
                text(
                    f"INSERT INTO {SCHEMA}.revision_state (revision, change, phase, run_id) "
                    "VALUES (:r, :c, :p, :run) ON CONFLICT (revision) DO UPDATE SET "
                    "applied_at = now(), run_id = EXCLUDED.run_id"
                ),
                {"r": rid, "c": change, "p": phase, "run": run_id},
            )
            forget(conn, rid)  # finished: what an interrupted run of it committed is history now
    else:
        for rid in down_ids:
            conn.execute(text(f"DELETE FROM {SCHEMA}.revision_state WHERE revision = :r"), {"r": rid})


def add_event(conn: Any, run_id: int, event: dict[str, Any]) -> None:
    from sqlalchemy import text

    conn.execute(
        text(f"UPDATE {SCHEMA}.runs SET events = events || CAST(:e AS jsonb) WHERE id = :id"),
        {"e": json.dumps([event]), "id": run_id},
    )
