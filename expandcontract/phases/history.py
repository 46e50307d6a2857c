"""`history`: the audit log of phase runs, newest first. Read-only: no table is created to look."""

from __future__ import annotations

from typing import Any

from expandcontract.db.connect import connect
from expandcontract.names import SCHEMA
from expandcontract.phases.state import schema_exists

MAX_LIMIT = 10_000


def read_history(url: str, limit: int) -> list[dict[str, Any]]:
    with connect(url, autocommit=True) as conn:
        if not schema_exists(conn):
            return []
        cur = conn.execute(
            f"SELECT id, command, phase, change, started_at, finished_at, os_user, host, revisions, outcome, "
            f"error, failed_revision, skip_gate_reason, gate FROM {SCHEMA}.runs ORDER BY id DESC LIMIT %s",
            (limit,),
        )
        cols = [d.name for d in cur.description or ()]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
