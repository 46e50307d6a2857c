"""Sample rows for every table of the old release's schema, before anything pending runs.

Generated from the catalog: each column's type (a value of its own per row in unique, text and integer
columns, a cycle of 997 values in the others), NOT NULL (else one row in twenty is NULL),
`CHECK (c IN (...))` lists and enum labels, and foreign keys (parents first; a child row points at a
random parent row). Columns the server fills (identity, serial, generated) are left to it. Rows go in
with COPY; a table with other CHECKs is copied into a temporary table first and only the rows that pass
its checks are kept.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from expandcontract.rehearse.catalog import TableInfo, parents_first
from expandcontract.verify.columns import Column, value_for

NULL_EVERY = 20
CYCLE = 997  # distinct values of a column that need not be unique
PARENT_SAMPLE = 10_000


@dataclass
class Seeded:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows written
    notes: list[str] = field(default_factory=list)


def seed(conn: Any, infos: dict[str, TableInfo], rows: int, rng: random.Random) -> Seeded:
    """Write `rows` rows into every table (on a connection outside any transaction)."""
    out = Seeded()
    wanted: dict[str, set[tuple[str, ...]]] = {}
    for info in infos.values():
        for _cols, ref, refcols in info.table.fks:
            wanted.setdefault(ref, set()).add(tuple(refcols))
    parents: dict[str, dict[tuple[str, ...], list[tuple[Any, ...]]]] = {}
    for info in parents_first(infos):
        columns = _columns(info, parents, rows, rng, out.notes)
        if columns is None:
            continue
        with conn.transaction():
            _skip_foreign_key_checks(conn, info)
            out.rows[info.table.key_name] = _copy(conn, info, columns, rows)
        conn.execute(sql.SQL("ANALYZE {}").format(sql.SQL(info.name)))
        parents[info.name] = {cols: _sample(conn, info.name, cols) for cols in wanted.get(info.name, ())}
    return out


def _columns(
    info: TableInfo,
    parents: dict[str, dict[tuple[str, ...], list[tuple[Any, ...]]]],
    rows: int,
    rng: random.Random,
    notes: list[str],
) -> dict[str, list[str | None]] | None:
    """Each column's values for all rows (text, as COPY takes them), or None when the table cannot be seeded."""
    table = info.table
    unique = info.unique_columns()
    out: dict[str, list[str | None]] = {}
    fk_cols: set[str] = set()
    for cols, ref, refcols in table.fks:
        fk_cols.update(cols)
        sample = parents.get(ref, {}).get(tuple(refcols), []) if ref != table.name else []
        picks = [sample[i] for i in rng.choices(range(len(sample)), k=rows)] if sample else []
        for pos, c in enumerate(cols):  # one parent row per child row, all columns of the key from it
            out[c] = [p[pos] for p in picks] if picks else [None] * rows
    for col in table.columns:
        if col.name in fk_cols and col.not_null and not any(out[col.name][:1]):
            notes.append(f"{table.key_name}: not seeded (nothing for its NOT NULL foreign key {col.name} to point at)")
            return None
        if col.generated or col.name in out:
            continue
        if value_for(col, 0) is None:
            if col.not_null and not col.has_default:
                notes.append(f"{table.key_name}: not seeded (no sample value for {col.name} of type {col.type})")
                return None
            continue
        out[col.name] = _values(col, rows, unique=col.name in unique)
    return out


def _values(col: Column, rows: int, *, unique: bool) -> list[str | None]:
    """A value of its own per row for unique, text and integer columns (as names and emails are, and
    cheap to make); a cycle of CYCLE values for the others (timestamps, numerics: costly to format);
    one in NULL_EVERY NULL where the column allows it."""
    if unique or col.category == "S" or col.base in ("int2", "int4", "int8"):
        values = [value_for(col, n) for n in range(1, rows + 1)]
        if not col.not_null and not unique:
            values[NULL_EVERY - 1 :: NULL_EVERY] = [None] * len(range(NULL_EVERY - 1, rows, NULL_EVERY))
        return values
    cycle = [value_for(col, k) for k in range(1, CYCLE + 1)]
    values = (cycle * (rows // CYCLE + 1))[:rows]
    if not col.not_null:
        values[NULL_EVERY - 1 :: NULL_EVERY] = [None] * len(range(NULL_EVERY - 1, rows, NULL_EVERY))
    return values


def _skip_foreign_key_checks(conn: Any, info: TableInfo) -> None:
    """The foreign key values point at rows that exist, so the per-row checks (most of a child table's
    COPY time) are skipped where allowed: a superuser's scratch server, a table without triggers of its own."""
    if not info.table.fks:
        return
    row = conn.execute(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", (info.name,)
    ).fetchone()
    if row and row[0]:
        return
    try:
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        pass


def _copy(conn: Any, info: TableInfo, values: dict[str, list[str | None]], rows: int) -> int:
    columns = list(values)
    checks = [
        e
        for col in columns
        for e in info.column_checks(col)
        if not any(c.name == col and c.allowed for c in info.table.columns)
    ] + info.row_checks()
    target = sql.SQL(info.name)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    into: sql.Composable = target
    if checks:
        into = sql.Identifier("ec_rehearse_seed")
        conn.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(into, target))
    with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(into, cols)) as copy:
        for row in zip(*values.values(), strict=True):
            copy.write_row(row)
    if not checks:
        return rows
    where = sql.SQL(" AND ").join(sql.SQL("({}) IS NOT FALSE").format(sql.SQL(e)) for e in checks)
    cur = conn.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} WHERE {}").format(target, cols, cols, into, where)
    )
    return int(cur.rowcount)


def _sample(conn: Any, table: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Random rows' values of `columns` (as text, the way COPY takes them), for child tables to point at."""
    query = sql.SQL("SELECT {} FROM {} ORDER BY random() LIMIT {}").format(
        sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns),
        sql.SQL(table),
        sql.Literal(PARENT_SAMPLE),
    )
    return [tuple(r) for r in conn.execute(query).fetchall()]
