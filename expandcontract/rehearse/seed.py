"""Sample rows for every table of the old release's schema, before anything pending runs.

Generated from the catalog: each column's type (a value that differs per row, so unique columns stay
unique), NOT NULL (else one row in twenty is NULL), `CHECK (c IN (...))` lists and enum labels, and
foreign keys (parents first; a child row points at a random parent row). Columns the server fills
(identity, serial, generated) are left to it. Rows go in with COPY; a table with other CHECKs is
copied into a temporary table first and only the rows that pass its checks are kept.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from expandcontract.rehearse.catalog import TableInfo, parents_first
from expandcontract.verify.columns import Column, value_for

NULL_EVERY = 20
PARENT_SAMPLE = 10_000

Gen = Callable[[int], str | None]


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
        gens = _generators(info, parents, rng, out.notes)
        if gens is None:
            continue
        columns = list(gens)
        with conn.transaction():
            out.rows[info.table.key_name] = _copy(conn, info, columns, [gens[c] for c in columns], rows)
        conn.execute(sql.SQL("ANALYZE {}").format(sql.SQL(info.name)))
        parents[info.name] = {cols: _sample(conn, info.name, cols) for cols in wanted.get(info.name, ())}
    return out


def _generators(
    info: TableInfo,
    parents: dict[str, dict[tuple[str, ...], list[tuple[Any, ...]]]],
    rng: random.Random,
    notes: list[str],
) -> dict[str, Gen] | None:
    table = info.table
    unique = info.unique_columns()
    gens: dict[str, Gen] = {}
    fk_cols: set[str] = set()
    for cols, ref, refcols in table.fks:
        fk_cols.update(cols)
        if ref == table.name:
            continue  # self reference: NULL below, or the table is skipped
        sample = parents.get(ref, {}).get(tuple(refcols), [])
        by_col = {c: i for i, c in enumerate(cols)}
        for c in cols:
            gens[c] = _pick(sample, by_col[c], rng)
    for col in table.columns:
        if col.generated or col.name in gens:
            continue
        if col.name in fk_cols:  # self reference
            if col.not_null:
                notes.append(f"{table.key_name}: not seeded (its NOT NULL foreign key {col.name} refers to itself)")
                return None
            gens[col.name] = lambda _n: None
            continue
        if value_for(col, 0) is None:
            if col.not_null and not col.has_default:
                notes.append(f"{table.key_name}: not seeded (no sample value for {col.name} of type {col.type})")
                return None
            continue
        gens[col.name] = _values(col, nullable=not col.not_null and col.name not in unique)
    return gens


def _pick(sample: list[tuple[Any, ...]], i: int, rng: random.Random) -> Gen:
    if not sample:
        return lambda _n: None
    rows = [row[i] for row in sample]
    return lambda _n: rng.choice(rows)


def _values(col: Column, nullable: bool) -> Gen:
    if nullable:
        return lambda n: None if n % NULL_EVERY == NULL_EVERY - 1 else value_for(col, n)
    return lambda n: value_for(col, n)


def _copy(conn: Any, info: TableInfo, columns: list[str], gens: list[Gen], rows: int) -> int:
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
        for n in range(1, rows + 1):
            copy.write_row([g(n) for g in gens])
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
