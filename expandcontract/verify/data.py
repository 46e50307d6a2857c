"""Sample rows and data fingerprints: does data written after an upgrade survive its downgrade?

A downgrade can restore every catalog entry and still lose data (drop and re-create a column, a
narrowing type change, a DELETE). So after each upgrade verify writes a few rows into every table,
generated from the column types (respecting NOT NULL, defaults, foreign keys and simple `IN (...)`
checks, as far as is reasonable), and fingerprints the columns that existed before the upgrade with
`count(*), sum(hashtextextended(...))` (one cheap aggregate per table, per column too so a message can
name the column). The rows are deleted again once the revision has passed, so random values never
trip a later revision's constraints.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import count
from typing import Any

from psycopg import sql

from expandcontract.verify.columns import Table, ordered, tables_of, value_for
from expandcontract.verify.snapshot import Snapshot

ROWS_PER_TABLE = 3


@dataclass
class Written:
    """The sample rows of one table: `ROW(key columns)::text` of each, to find them again."""

    sql_name: str
    key: list[str]
    rows: list[str] = field(default_factory=list)


@dataclass
class Samples:
    """Rows written after an upgrade, per table (keyed as snapshots name tables), parents first."""

    tables: dict[str, Written] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def insert(conn: Any, counter: Iterator[int], schema: Snapshot | None = None) -> Samples:
    """Write ROWS_PER_TABLE rows into every user table; tables that refuse them get a note.

    `schema`, the current snapshot, lets the table metadata be reused while the schema is unchanged."""
    signature = None
    if schema is not None:
        signature = repr([schema.get(c) for c in ("table", "column", "constraint", "type")])
    samples = Samples()
    with conn.transaction():  # one commit; each row in its own savepoint
        for table in ordered(tables_of(conn, signature)):
            _insert_table(conn, table, counter, samples)
    return samples


def _insert_table(conn: Any, table: Table, counter: Iterator[int], samples: Samples) -> None:
    written = Written(table.name, _key_columns(table))
    parents = _parents(conn, table)
    rows = [r for i in range(ROWS_PER_TABLE) if (r := _row(table, next(counter), i == 1, parents)) is not None]
    if len(rows) == ROWS_PER_TABLE and all(r[0] == rows[0][0] for r in rows):
        with contextlib.suppress(Exception), conn.transaction():  # the usual case: one statement
            written.rows.extend(_insert_rows(conn, table, written.key, rows))
    if not written.rows:  # row by row, a NULL-free variant of the row with NULLs, skipping refusals
        for i in range(ROWS_PER_TABLE):
            for nulls in (True, False) if i == 1 else (False,):
                row = _row(table, next(counter), nulls, parents)
                if row is None:
                    break
                try:
                    with conn.transaction():
                        written.rows.extend(_insert_rows(conn, table, written.key, [row]))
                except Exception:
                    continue
                break
    if written.rows:
        samples.tables[table.key_name] = written
    else:
        samples.notes.append(
            f"table {table.key_name}: no sample rows could be written (types or constraints not understood); "
            "its data was not checked"
        )


def _key_columns(table: Table) -> list[str]:
    return table.key or [c.name for c in table.columns if not c.generated]


Row = tuple[list[str], list[str | None], list[str]]


def _parents(conn: Any, table: Table) -> list[tuple[list[str], list[list[str | None]]]]:
    """Per foreign key: its columns and up to ROWS_PER_TABLE referenced key values to pick from."""
    out: list[tuple[list[str], list[list[str | None]]]] = []
    for cols, ref, refcols in table.fks:
        found: list[list[str | None]] = []
        if ref != table.name:
            select = sql.SQL("SELECT {} FROM {} LIMIT %s").format(
                sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in refcols), sql.SQL(ref)
            )
            found = [list(r) for r in conn.execute(select, (ROWS_PER_TABLE,)).fetchall()]
        out.append((cols, found))
    return out


def _row(table: Table, n: int, nulls: bool, parents: list[tuple[list[str], list[list[str | None]]]]) -> Row | None:
    fk_values: dict[str, str | None] = {}
    for cols, found in parents:
        picked = found[n % len(found)] if found else None
        for j, fk_col in enumerate(cols):
            fk_values[fk_col] = picked[j] if picked else None
    names: list[str] = []
    literals: list[str | None] = []
    types: list[str] = []
    for col in table.columns:
        if col.generated:
            continue
        if col.name in fk_values:
            value = fk_values[col.name]
            if value is None and col.not_null:
                return None
        elif nulls and not col.not_null:
            value = None
        else:
            value = value_for(col, n)
            if value is None:
                if col.has_default:
                    continue
                if col.not_null:
                    return None
        names.append(col.name)
        literals.append(value)
        types.append(col.type)
    return names, literals, types


def _insert_rows(conn: Any, table: Table, key: list[str], rows: list[Row]) -> list[str]:
    """INSERT `rows` (all naming the same columns) in one statement; returns their key texts."""
    names, _, types = rows[0]
    returning = sql.SQL("ROW({})::text").format(sql.SQL(", ").join(sql.Identifier(c) for c in key))
    if names:
        one = sql.SQL("({})").format(sql.SQL(", ").join(sql.SQL("%s::" + t) for t in types))
        query = sql.SQL("INSERT INTO {} ({}) VALUES {} RETURNING {}").format(
            sql.SQL(table.name),
            sql.SQL(", ").join(sql.Identifier(c) for c in names),
            sql.SQL(", ").join([one] * len(rows)),
            returning,
        )
        params = [v for _, literals, _ in rows for v in literals]
    else:
        query = sql.SQL("INSERT INTO {} DEFAULT VALUES RETURNING {}").format(sql.SQL(table.name), returning)
        params = []
    return [str(r[0]) for r in conn.execute(query, params).fetchall()]


def _ours(written: Written) -> sql.Composable:
    return sql.SQL("ROW({})::text = ANY(%s)").format(sql.SQL(", ").join(sql.Identifier(c) for c in written.key))


def delete(conn: Any, samples: Samples) -> None:
    """Remove the sample rows again (best effort: a row a migration rewrote may stay), children first."""
    with conn.transaction():
        for written in reversed(samples.tables.values()):
            with contextlib.suppress(Exception), conn.transaction():
                query = sql.SQL("DELETE FROM {} WHERE {}").format(sql.SQL(written.sql_name), _ours(written))
                conn.execute(query, (written.rows,))


# --- fingerprints -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TablePrint:
    rows: int
    whole: Decimal
    columns: dict[str, Decimal]


def shared_columns(before: Snapshot, after: Snapshot) -> dict[str, list[str]]:
    """Table key -> columns that exist both before and after the upgrade (the data that must survive)."""
    both = before.get("column", {}).keys() & after.get("column", {}).keys()
    tables: dict[str, list[str]] = {}
    for key in sorted(both):
        table, _, column = key.rpartition(".")
        tables.setdefault(table, []).append(column)
    return tables


def _ident(table_key: str) -> sql.Composable:
    schema, _, name = table_key.rpartition(".")
    return sql.Identifier(schema or "public", name)


def fingerprint(conn: Any, tables: dict[str, list[str]], samples: Samples) -> dict[str, TablePrint]:
    """Per table with sample rows: count and hashes of those rows over `tables[table]` columns."""
    prints: dict[str, TablePrint] = {}
    for table, columns in tables.items():
        written = samples.tables.get(table)
        if written is None or not set(written.key) <= set(columns):
            continue
        ids = [sql.Identifier(c) for c in columns]
        per_column = [
            sql.SQL("coalesce(sum(hashtextextended(coalesce({}::text, '<null>'), 0)::numeric), 0)").format(i)
            for i in ids
        ]
        query = sql.SQL(
            "SELECT count(*), coalesce(sum(hashtextextended(ROW({})::text, 0)::numeric), 0), {} FROM {} WHERE {}"
        ).format(sql.SQL(", ").join(ids), sql.SQL(", ").join(per_column), _ident(table), _ours(written))
        try:
            row = conn.execute(query, (written.rows,)).fetchone()
        except Exception:
            continue  # the table or a column is gone: the snapshot diff says so
        prints[table] = TablePrint(int(row[0]), row[1], dict(zip(columns, row[2:], strict=True)))
    return prints


def compare(before: dict[str, TablePrint], after: dict[str, TablePrint], rev: str) -> list[str]:
    """Data lost by the downgrade of `rev`, one message per table or column."""
    out: list[str] = []
    for table, was in before.items():
        now = after.get(table)
        if now is None:
            continue
        if now.rows != was.rows:
            out.append(f"table {table}: {now.rows} of {was.rows} sample rows left after downgrade of {rev} (rows lost)")
            continue
        changed = [c for c, h in was.columns.items() if now.columns.get(c) != h]
        for column in changed:
            out.append(
                f"column {table}.{column}: values changed by the downgrade of {rev} "
                f"(data lost in a column that existed before the upgrade)"
            )
        if not changed and now.whole != was.whole:
            out.append(f"table {table}: values moved between sample rows by the downgrade of {rev}")
    return out


def counter(start: int = 10_000) -> Iterator[int]:
    return count(start)
