"""Which columns a backfill walks in order, and how to compare against a saved position.

A keyset backfill needs a key that is unique, NOT NULL and served by a plain ascending btree index:
the primary key, else the narrowest usable unique index. Positions are saved as text (one string per key
column) and cast back with the column's own type, so bigint, uuid, text and composite keys share one
code path and a checkpoint survives a restart of any process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from expandcontract.backfill.errors import BackfillInputError


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    oid: int
    columns: tuple[str, ...]
    rows: float = -1.0  # pg_class.reltuples: the planner's row count, -1 if never analyzed

    @property
    def ident(self) -> sql.Composed:
        return sql.SQL(".").join([sql.Identifier(self.schema), sql.Identifier(self.name)])

    @property
    def display(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Key:
    columns: tuple[str, ...]
    types: tuple[str, ...]
    index: str

    def _cols(self) -> sql.Composed:
        return sql.SQL(", ").join(sql.Identifier(c) for c in self.columns)

    def row(self) -> sql.Composed:
        """`(a, b)`: the key as a row value, comparable with `row_of`."""
        return sql.SQL("({})").format(self._cols())

    def row_of(self, values: Sequence[str]) -> sql.Composed:
        """`(%s::bigint, %s::uuid)` with the values bound as literals of the key's own types."""
        parts = [sql.SQL("{}::{}").format(sql.Literal(v), sql.SQL(t)) for v, t in zip(values, self.types, strict=True)]
        return sql.SQL("({})").format(sql.SQL(", ").join(parts))

    def order_by(self) -> sql.Composed:
        return self._cols()

    def as_text(self) -> sql.Composed:
        # Aliased: ORDER BY "id" would otherwise sort by the text output column, not the key.
        return sql.SQL(", ").join(
            sql.SQL("{}::text AS {}").format(sql.Identifier(c), sql.Identifier(f"_ec_key{i}"))
            for i, c in enumerate(self.columns)
        )

    def between(self, lower: Sequence[str] | None, upper: Sequence[str]) -> sql.Composed:
        """`key > lower AND key <= upper` (no lower bound when `lower` is None)."""
        upper_sql = sql.SQL("{} <= {}").format(self.row(), self.row_of(upper))
        if lower is None:
            return upper_sql
        return sql.SQL("{} > {} AND {}").format(self.row(), self.row_of(lower), upper_sql)


def resolve_table(conn: Any, table: str, schema: str | None) -> Table:
    qualified = f"{_quote(schema)}.{_quote(table)}" if schema else _quote(table)
    row = conn.execute(
        "SELECT c.oid, n.nspname, c.relname, c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid = to_regclass(%s) AND c.relkind IN ('r', 'p')",
        (qualified,),
    ).fetchone()
    if row is None:
        path = conn.execute("SHOW search_path").fetchone()[0]
        where = f"schema {schema!r}" if schema else f"search_path {path!r}"
        raise BackfillInputError(
            f"table {qualified} does not exist in {where}; check op.backfill()'s table (and schema=) arguments"
        )
    cols = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (row[0],),
    ).fetchall()
    return Table(schema=row[1], name=row[2], oid=row[0], columns=tuple(c[0] for c in cols), rows=float(row[3]))


def _quote(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


_CANDIDATES = """
SELECT ic.relname, i.indisprimary,
       array_agg(a.attname ORDER BY k.ord),
       array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.ord),
       bool_and(a.attnotnull),
       bool_and(COALESCE(o.opt, 0) = 0)
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
LEFT JOIN LATERAL (SELECT (i.indoption::int2[])[k.ord - 1] AS opt) o ON true
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = %s AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
  AND am.amname = 'btree' AND k.ord <= i.indnkeyatts
GROUP BY ic.relname, i.indisprimary
ORDER BY i.indisprimary DESC, count(*), ic.relname
"""


def find_key(conn: Any, table: Table, override: Sequence[str] | None = None) -> Key:
    """The primary key, else the narrowest unique NOT NULL ascending btree key; `override` must match one."""
    usable: list[Key] = []
    for idx, _primary, cols, types, not_null, ascending in conn.execute(_CANDIDATES, (table.oid,)).fetchall():
        if not_null and ascending:
            usable.append(Key(tuple(cols), tuple(types), idx))
    if override:
        missing = [c for c in override if c not in table.columns]
        if missing:
            raise BackfillInputError(
                f"key column {missing[0]!r} is not a column of {table.display}; columns are: {', '.join(table.columns)}"
            )
        for k in usable:
            if k.columns == tuple(override):
                return k
        raise BackfillInputError(
            f"key=({', '.join(override)}) on {table.display} is not backed by a unique NOT NULL btree index; "
            f"create one (CREATE UNIQUE INDEX CONCURRENTLY ... ON {table.display} ({', '.join(override)})) "
            "in the expand phase, or drop key= to use the primary key"
        )
    if not usable:
        raise BackfillInputError(
            f"table {table.display} has no primary key and no unique index on NOT NULL columns, so a keyset "
            "backfill cannot walk it; add one in the expand phase (e.g. ALTER TABLE ... ADD PRIMARY KEY, or "
            "CREATE UNIQUE INDEX CONCURRENTLY on NOT NULL columns) and pass it with key=(...) if not the primary key"
        )
    return usable[0]


def check_columns(table: Table, key: Key, values: dict[str, str]) -> None:
    if not values:
        raise BackfillInputError("op.backfill() needs values={column: SQL expression, ...}; it is empty")
    for col in values:
        if col not in table.columns:
            raise BackfillInputError(
                f"unknown column {col!r} in {table.display}; columns are: {', '.join(table.columns)}. "
                "Add it in the expand revision, or fix the name in values="
            )
        if col in key.columns:
            raise BackfillInputError(
                f"values= assigns {col!r}, a column of the key ({', '.join(key.columns)}) the backfill walks; "
                "backfill into a new column instead"
            )
