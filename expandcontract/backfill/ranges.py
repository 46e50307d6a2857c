"""Key ranges: how one backfill is shared by one process or N workers with no coordinator.

The key space up to the upper bound fixed at registration is carved into ranges of about `range_rows`
keys, on demand, from a frontier in the backfill row. A process first picks up an unfinished range no
live process holds (`FOR UPDATE SKIP LOCKED` on the range rows, then an advisory lock on the range that
lives as long as the process's session), else carves the next one. A killed worker's range is free the
moment its session ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from expandcontract.backfill import locks
from expandcontract.backfill.spec import Plan
from expandcontract.names import SCHEMA

CARVE_TIMEOUT_S = 120


@dataclass
class Range:
    range_no: int
    lower: list[str] | None
    upper: list[str]


def claim(conn: Any, p: Plan, worker: str, range_rows: int) -> Range | None:
    """A range for this session to work on, or None when every range is carved and held or done."""
    rows = conn.execute(
        f"SELECT range_no, lower_key, upper_key FROM {SCHEMA}.backfill_ranges "
        "WHERE name = %s AND NOT done ORDER BY range_no FOR UPDATE SKIP LOCKED",
        (p.name,),
    ).fetchall()
    for range_no, lower, upper in rows:
        if locks.try_claim_range(conn, p.name, range_no):
            conn.execute(
                f"UPDATE {SCHEMA}.backfill_ranges SET worker = %s, updated_at = now() "
                "WHERE name = %s AND range_no = %s",
                (worker, p.name, range_no),
            )
            conn.commit()
            return Range(range_no, lower, upper)
    conn.commit()
    return _carve(conn, p, worker, range_rows)


def _carve(conn: Any, p: Plan, worker: str, range_rows: int) -> Range | None:
    # A range probe walks range_rows index entries: far more than a batch, so not the batch's timeout.
    # Carvers take turns on an advisory lock rather than the backfill row, so heartbeats, pause and
    # cancel never queue behind a long probe.
    conn.execute("SELECT set_config('statement_timeout', %s, true)", (f"{CARVE_TIMEOUT_S}s",))
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (locks.CARVE_CLASS, p.name))
    row = conn.execute(f"SELECT frontier, upper_bound FROM {SCHEMA}.backfills WHERE name = %s", (p.name,)).fetchone()
    frontier, upper_bound = row
    if upper_bound is None or frontier == upper_bound:
        conn.commit()
        return None
    found = conn.execute(p.probe(frontier, upper_bound, range_rows)).fetchone()
    upper = list(found) if found is not None else upper_bound
    range_no = conn.execute(
        f"SELECT COALESCE(max(range_no), 0) + 1 FROM {SCHEMA}.backfill_ranges WHERE name = %s", (p.name,)
    ).fetchone()[0]
    conn.execute(
        f"INSERT INTO {SCHEMA}.backfill_ranges (name, range_no, lower_key, upper_key, cursor_key, worker) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (p.name, range_no, frontier, upper, frontier, worker),
    )
    conn.execute(f"UPDATE {SCHEMA}.backfills SET frontier = %s WHERE name = %s", (upper, p.name))
    claimed = locks.try_claim_range(conn, p.name, range_no)
    conn.commit()
    assert claimed, "a freshly carved range cannot be held by another session"
    return Range(range_no, frontier, upper)


def all_carved_and_done(conn: Any, name: str) -> tuple[bool, int]:
    """(finished, ranges still open)."""
    row = conn.execute(
        f"SELECT b.upper_bound IS NULL OR b.frontier = b.upper_bound, "
        f"(SELECT count(*) FROM {SCHEMA}.backfill_ranges r WHERE r.name = b.name AND NOT r.done) "
        f"FROM {SCHEMA}.backfills b WHERE b.name = %s",
        (name,),
    ).fetchone()
    conn.commit()
    carved, open_ranges = bool(row[0]), int(row[1])
    return carved and open_ranges == 0, open_ranges
