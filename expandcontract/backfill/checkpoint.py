"""The checkpoint tables: what a backfill is, how far it got, and which key ranges exist.

`backfills` has one row per backfill (definition, frontier of carved ranges, fixed upper bound, status,
the pause/cancel flag, the last throttle reason). `backfill_ranges` has one row per carved key range with
its own cursor; a batch locks its range row, reads the cursor, updates the table and moves the cursor in
ONE transaction, so a kill loses no work and no row is processed twice, by one process or by N workers.
Liveness is never read from these rows: see `locks.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from expandcontract.names import SCHEMA

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.backfills (
    name             text PRIMARY KEY,
    table_schema     text NOT NULL,
    table_name       text NOT NULL,
    key_columns      text[] NOT NULL,
    key_types        text[] NOT NULL,
    set_values       jsonb NOT NULL,
    where_sql        text,
    frontier         text[],
    upper_bound      text[],
    rows_estimate    bigint,
    status           text NOT NULL DEFAULT 'pending',
    requested        text,
    throttled_reason text,
    error            text,
    batch_size       integer,
    rate             double precision,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CONSTRAINT backfills_status_check
        CHECK (status IN ('pending', 'running', 'paused', 'done', 'failed', 'cancelled')),
    CONSTRAINT backfills_requested_check CHECK (requested IN ('pause', 'cancel'))
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.backfill_ranges (
    name        text NOT NULL REFERENCES {SCHEMA}.backfills (name) ON DELETE CASCADE ON UPDATE CASCADE,
    range_no    integer NOT NULL,
    lower_key   text[],
    upper_key   text[] NOT NULL,
    cursor_key  text[],
    rows_done   bigint NOT NULL DEFAULT 0,
    batches     bigint NOT NULL DEFAULT 0,
    done        boolean NOT NULL DEFAULT false,
    worker      text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, range_no)
);
-- rows_done on the backfill row is a copy refreshed about once a second (and exactly at the end), for
-- readers of this one table; the exact figure is the sum over backfill_ranges.
ALTER TABLE {SCHEMA}.backfills ADD COLUMN IF NOT EXISTS rows_done bigint NOT NULL DEFAULT 0;
-- the revision whose upgrade ran the backfill: its downgrade forgets the checkpoint (see forget_revision)
ALTER TABLE {SCHEMA}.backfills ADD COLUMN IF NOT EXISTS revision text;
"""

# One DDL run at a time: concurrent CREATE ... IF NOT EXISTS can still collide on the catalog.
_DDL_LOCK = 0x6563_0010


_PRESENT = f"""
SELECT to_regclass('{SCHEMA}.backfill_ranges') IS NOT NULL AND EXISTS (
    SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('{SCHEMA}.backfills') AND attname = 'revision'
)
"""


def exists(conn: Any) -> bool:
    row = conn.execute(_PRESENT).fetchone()
    conn.commit()
    return bool(row[0])


_HAS_REVISION = f"""
SELECT EXISTS (
    SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('{SCHEMA}.backfills') AND attname = 'revision'
)
"""


def bind_to_revision(conn: Any, revision: str) -> None:
    """Inside the transaction of `revision`'s upgrade step (a SQLAlchemy connection): the backfills it ran
    (done by now: op.backfill returns only when its backfill is) belong to it."""
    from sqlalchemy import text

    if conn.execute(text(_HAS_REVISION)).scalar():
        conn.execute(
            text(f"UPDATE {SCHEMA}.backfills SET revision = :r WHERE revision IS NULL AND status = 'done'"),
            {"r": revision},
        )


def forget_revision(conn: Any, revision: str) -> None:
    """Inside the transaction of `revision`'s downgrade step: forget the checkpoints of the backfills it ran,
    so upgrading it again fills the (re-added) columns again instead of finding the backfill done."""
    from sqlalchemy import text

    if conn.execute(text(_HAS_REVISION)).scalar():
        conn.execute(text(f"DELETE FROM {SCHEMA}.backfills WHERE revision = :r"), {"r": revision})


def ensure_schema(conn: Any) -> None:
    """Create our tables if missing (idempotent). `conn` is a psycopg connection; commits.

    Checks the catalog first: the DDL (ALTER TABLE ... IF NOT EXISTS included) would take an ACCESS
    EXCLUSIVE lock on the checkpoint table, queueing behind the running batches and every reader after it.
    """
    if exists(conn):
        return
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
    conn.execute(DDL)
    conn.commit()


@dataclass
class Definition:
    name: str
    table_schema: str
    table_name: str
    key_columns: tuple[str, ...]
    key_types: tuple[str, ...]
    values: dict[str, str]
    where: str | None


def load(conn: Any, name: str) -> dict[str, Any] | None:
    cur = conn.execute(f"SELECT * FROM {SCHEMA}.backfills WHERE name = %s", (name,))
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d.name for d in cur.description], row, strict=True))


def register(conn: Any, d: Definition, upper: list[str] | None, estimate: int | None) -> dict[str, Any]:
    """Insert the backfill if new; otherwise keep its checkpoint and take the (possibly fixed) SQL."""
    conn.execute(
        f"INSERT INTO {SCHEMA}.backfills (name, table_schema, table_name, key_columns, key_types, set_values, "
        "where_sql, upper_bound, rows_estimate, status, finished_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END) ON CONFLICT (name) DO NOTHING",
        (
            d.name,
            d.table_schema,
            d.table_name,
            list(d.key_columns),
            list(d.key_types),
            json.dumps(d.values),
            d.where,
            upper,
            estimate,
            "done" if upper is None else "pending",
            upper is None,
        ),
    )
    conn.execute(
        f"UPDATE {SCHEMA}.backfills SET set_values = %s, where_sql = %s, updated_at = now() "
        "WHERE name = %s AND status <> 'done'",
        (json.dumps(d.values), d.where, d.name),
    )
    row = load(conn, d.name)
    assert row is not None
    conn.commit()
    return row


def set_fields(conn: Any, name: str, **fields: Any) -> None:
    """Update columns of the backfill row in a transaction of its own."""
    assignments = ", ".join(f"{k} = %s" for k in fields)
    conn.execute(
        f"UPDATE {SCHEMA}.backfills SET {assignments}, updated_at = now() WHERE name = %s",
        (*fields.values(), name),
    )
    conn.commit()


def totals(conn: Any, name: str) -> tuple[int, int, int]:
    """(rows_done, ranges, ranges_done) summed over the ranges."""
    row = conn.execute(
        f"SELECT COALESCE(sum(rows_done), 0), count(*), count(*) FILTER (WHERE done) "
        f"FROM {SCHEMA}.backfill_ranges WHERE name = %s",
        (name,),
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])
