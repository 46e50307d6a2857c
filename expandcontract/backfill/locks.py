"""Liveness through PostgreSQL advisory locks, never through a status column.

Every process working on a backfill holds a SHARED session lock on the backfill, and an EXCLUSIVE session
lock on each key range it has claimed. A killed process loses its session and so its locks at once: the
next `run migrate` or `backfill work` sees the range free and resumes it, and `backfill status` counts the
live processes from pg_locks.
"""

from __future__ import annotations

from typing import Any

BACKFILL_CLASS = 0x6563_0002  # first key of the shared per-backfill lock
RANGE_CLASS = 0x6563_0003  # first key of the exclusive per-range lock
CARVE_CLASS = 0x6563_0004  # first key of the transaction lock serialising range carving


def _range_key(name: str, range_no: int) -> str:
    return f"{name}#{range_no}"


def join_backfill(conn: Any, name: str) -> None:
    conn.execute("SELECT pg_advisory_lock_shared(%s, hashtext(%s))", (BACKFILL_CLASS, name))


def try_claim_range(conn: Any, name: str, range_no: int) -> bool:
    row = conn.execute(
        "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (RANGE_CLASS, _range_key(name, range_no))
    ).fetchone()
    return bool(row[0])


def release_range(conn: Any, name: str, range_no: int) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (RANGE_CLASS, _range_key(name, range_no)))


LIVE_SQL = """
SELECT count(DISTINCT pid) FROM pg_locks
WHERE locktype = 'advisory' AND granted AND classid = %s AND objsubid = 2
  AND objid::bigint = (hashtext(%s)::bigint + 4294967296) %% 4294967296
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def live_processes(conn: Any, name: str) -> int:
    """How many sessions work on `name` right now (holders of its shared lock)."""
    row = conn.execute(LIVE_SQL, (BACKFILL_CLASS, name)).fetchone()
    return int(row[0])
