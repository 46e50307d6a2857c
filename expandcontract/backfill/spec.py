"""What a backfill is (table, SET values, WHERE, key) and the SQL its batches run.

Validated before any row is touched, against the live catalog: the table must exist, every assigned
column must exist and not be part of the key, the key must be walkable in order, and the values/where SQL
must each be one expression (sqlcheck.py) and compile (EXPLAIN); system schemas are refused. Statements
are built with psycopg.sql around those checked expressions. Each failure is one line naming what is wrong and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from expandcontract.backfill import checkpoint, sqlcheck
from expandcontract.backfill.errors import BackfillInputError
from expandcontract.backfill.keys import Key, Table, check_columns, find_key, resolve_table


@dataclass(frozen=True)
class Spec:
    """The arguments of `op.backfill(...)`."""

    name: str
    table: str
    values: dict[str, str]
    where: str | None = None
    schema: str | None = None
    key: tuple[str, ...] | None = None
    batch_time_ms: int | None = None


@dataclass(frozen=True)
class Plan:
    """A validated backfill: everything the engine needs to build its statements."""

    name: str
    table: Table
    key: Key
    values: dict[str, str]
    where: str | None
    batch_time_ms: int | None = field(default=None)

    def update(self, lower: Sequence[str] | None, upper: Sequence[str]) -> sql.Composed:
        return self._update(self.key.between(lower, upper))

    def _update(self, cond: sql.Composed) -> sql.Composed:
        sets = sql.SQL(", ").join(
            sql.SQL("{} = ({})").format(sql.Identifier(c), sql.SQL(expr)) for c, expr in self.values.items()
        )
        if self.where:
            cond = sql.SQL("{} AND ({})").format(cond, sql.SQL(self.where))
        return sql.SQL("UPDATE {} SET {} WHERE {}").format(self.table.ident, sets, cond)

    def compile_check(self) -> sql.Composed:
        return sql.SQL("EXPLAIN ") + self._update(sql.Composed([sql.SQL("true")]))

    def probe(self, lower: Sequence[str] | None, upper: Sequence[str], n: int) -> sql.Composed:
        """The n-th key after `lower` (at most `upper`): an index-only walk, never OFFSET paging of rows."""
        return sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {} OFFSET {} LIMIT 1").format(
            self.key.as_text(), self.table.ident, self.key.between(lower, upper), self.key.order_by(), max(0, n - 1)
        )

    def max_key(self) -> sql.Composed:
        desc = sql.SQL(", ").join(sql.SQL("{} DESC").format(sql.Identifier(c)) for c in self.key.columns)
        return sql.SQL("SELECT {} FROM {} ORDER BY {} LIMIT 1").format(self.key.as_text(), self.table.ident, desc)

    def definition(self) -> checkpoint.Definition:
        return checkpoint.Definition(
            name=self.name,
            table_schema=self.table.schema,
            table_name=self.table.name,
            key_columns=self.key.columns,
            key_types=self.key.types,
            values=dict(self.values),
            where=self.where,
        )


def plan(conn: Any, spec: Spec) -> Plan:
    """Validate `spec` against the catalog; raises BackfillInputError with the fix."""
    sqlcheck.check_arguments(spec.values, spec.where)
    table = resolve_table(conn, spec.table, spec.schema)
    if sqlcheck.system_schema(table.schema):
        raise BackfillInputError(
            f"backfill {spec.name}: {table.display} is in the system schema {table.schema!r}; a backfill only "
            "updates the application's own tables (check op.backfill()'s table and schema= arguments)"
        )
    key = find_key(conn, table, spec.key)
    check_columns(table, key, spec.values)
    p = Plan(spec.name, table, key, dict(spec.values), spec.where or None, spec.batch_time_ms)
    _compiles(conn, p)
    return p


def _compiles(conn: Any, p: Plan) -> None:
    try:
        conn.execute(p.compile_check())
    except psycopg.Error as exc:
        conn.rollback()
        detail = " ".join((exc.diag.message_primary or str(exc)).split())  # one line, whatever the value held
        raise BackfillInputError(
            f"backfill {p.name}: the SQL of values={p.values!r}"
            + (f", where={p.where!r}" if p.where else "")
            + f" does not run on {p.table.display}: {detail}; fix it in op.backfill(...)"
        ) from None
    conn.rollback()


def estimate_rows(conn: Any, p: Plan) -> int | None:
    """The planner's estimate of the rows to fill, for progress and ETA.

    The estimate is only as good as the statistics of the columns the WHERE reads. A table never analyzed
    has none (the planner guesses a fraction of a percent), and a column added since the last ANALYZE has
    none either (the planner then guesses that `col IS NULL` matches almost nothing, or everything of what
    it knew), and statistics older than the rows written since (more than autovacuum's own 10% + 50
    threshold, before autovacuum got to it: a column added by the expand and filled by the migrate still
    reads as all NULL) are as wrong: so the table, or just those columns, is analyzed first, once (the next
    run finds the stats). ANALYZE reads a bounded sample and its lock does not block reads or writes."""
    stats = conn.execute(
        "SELECT last_analyze IS NULL AND last_autoanalyze IS NULL, "
        "n_mod_since_analyze > 50 + 0.1 * greatest(n_live_tup, 0) FROM pg_stat_all_tables WHERE relid = %s",
        (p.table.oid,),
    ).fetchone()
    if stats and stats[0]:
        conn.execute(sql.SQL("ANALYZE {}").format(p.table.ident))
        conn.commit()
    else:
        stale = _columns_named(p) if stats and stats[1] else _columns_without_stats(conn, p)
        if stale:
            cols = sql.SQL(", ").join(sql.Identifier(c) for c in stale)
            conn.execute(sql.SQL("ANALYZE {} ({})").format(p.table.ident, cols))
            conn.commit()
    query = sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM {}").format(p.table.ident)
    if p.where:
        query = query + sql.SQL(" WHERE ({})").format(sql.SQL(p.where))
    try:
        doc = conn.execute(query).fetchone()[0]
    finally:
        conn.rollback()
    return int(doc[0]["Plan"]["Plan Rows"])


def _columns_named(p: Plan) -> list[str]:
    """Columns of the table that the WHERE or the values name."""
    text = " ".join([p.where or "", *p.values.values(), *p.values])
    return [c for c in p.table.columns if re.search(rf"(?<![\w$]){re.escape(c)}(?![\w$])", text)]


def _columns_without_stats(conn: Any, p: Plan) -> list[str]:
    """Columns the WHERE or the values name that pg_stats has no row for (e.g. added after the last ANALYZE)."""
    named = _columns_named(p)
    if not named:
        return []
    rows = conn.execute(
        "SELECT attname FROM pg_stats WHERE schemaname = %s AND tablename = %s AND attname = ANY(%s)",
        (p.table.schema, p.table.name, named),
    ).fetchall()
    conn.rollback()
    have = {r[0] for r in rows}
    return [c for c in named if c not in have]
