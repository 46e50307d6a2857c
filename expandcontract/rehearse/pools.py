"""What one release's traffic writes and which rows it touches, computed from the live schema when the
release starts.

Per mapped column: candidate values of the column's type in the database, converted by PostgreSQL
itself to the Python values psycopg returns (so the app sends typed parameters, as an ORM does) and
filtered through the column's CHECK constraints (the app obeys its own rules); unique columns get a
run of values of their own per worker; foreign keys point at rows seeded before anything ran (rows
that traffic inserted may be deleted again). Per table: keys of random seeded rows, minus the few the
rename probe keeps to itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from expandcontract.rehearse.catalog import TableInfo
from expandcontract.verify.columns import Column, value_for

CANDIDATES = 64
KEY_SAMPLE = 2_000
PROBE_KEYS = 20
UNIQUE_BASE = 100_000_000
UNIQUE_SPAN = 10_000_000


@dataclass
class ModelColumn:
    """A column as a release's models map it (sent by its worker: the parent never imports models)."""

    name: str
    primary_key: bool
    server_generated: bool  # identity, autoincrement key, computed, or a server default
    nullable: bool
    python_type: str  # int, str, ... ("" when SQLAlchemy does not say)
    foreign_key: tuple[str, str] | None = None  # (table, column)


@dataclass
class ModelTable:
    name: str  # `users`, `audit.log`
    columns: list[ModelColumn]

    @property
    def key(self) -> list[str]:
        return [c.name for c in self.columns if c.primary_key]


@dataclass
class ColumnPlan:
    name: str
    values: list[Any] = field(default_factory=list)  # empty: the worker makes values from the model type
    unique: bool = False
    nullable: bool = False
    free_text: bool = False  # text with no rule on it: each write gets a suffix of its own, as real text would


@dataclass
class TablePlan:
    name: str
    key: list[str]
    keys: list[tuple[Any, ...]]
    columns: dict[str, ColumnPlan]
    deletable: bool = True
    notes: list[str] = field(default_factory=list)


@dataclass
class SeededKeys:
    """Keys of seeded rows, sampled once after seeding (typed), by table and column set."""

    samples: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = field(default_factory=dict)
    tables: set[str] = field(default_factory=set)  # the tables that were seeded

    def get(self, conn: Any, table: str, columns: tuple[str, ...], size: int) -> list[tuple[Any, ...]]:
        key = (table, columns)
        if key not in self.samples:
            self.samples[key] = sample(conn, table, columns, size)
        return self.samples[key]


def sample(conn: Any, table: str, columns: tuple[str, ...], size: int) -> list[tuple[Any, ...]]:
    query = sql.SQL("SELECT {} FROM {} ORDER BY random() LIMIT {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.SQL(table), sql.Literal(size)
    )
    try:
        return [tuple(r) for r in conn.execute(query).fetchall()]
    except Exception:
        return []  # a table or column the release maps but the schema lacks: its operations will say so


def by_model_name(infos: dict[str, TableInfo]) -> dict[str, TableInfo]:
    return {info.table.key_name: info for info in infos.values()}


def plans(
    conn: Any,
    tables: list[ModelTable],
    infos: dict[str, TableInfo],
    seeded: SeededKeys,
    *,
    worker: int,
    unique_count: int,
    rng: random.Random,
) -> list[TablePlan]:
    """One worker's plan for each table its release maps."""
    named = by_model_name(infos)
    referenced = {ref for info in infos.values() for _c, ref, _r in info.table.fks}
    out: list[TablePlan] = []
    for mt in tables:
        info = named.get(mt.name)
        plan = TablePlan(mt.name, mt.key, [], {})
        out.append(plan)
        if info is None:
            plan.notes.append(f"{mt.name} is not in the schema")
            continue
        db_cols = {c.name: c for c in info.table.columns}
        if mt.key:
            keys = seeded.get(conn, info.name, tuple(mt.key), KEY_SAMPLE + PROBE_KEYS)
            plan.keys = keys[PROBE_KEYS:]
        # rows of a table seeded before anything ran are what foreign keys point at; others may be in use
        plan.deletable = info.name not in referenced or info.name in seeded.tables
        fks = {c: (ref, refcols[cols.index(c)]) for cols, ref, refcols in info.table.fks for c in cols}
        unique = info.unique_columns()
        for mc in mt.columns:
            col = db_cols.get(mc.name)
            cp = ColumnPlan(mc.name, nullable=mc.nullable and col is not None and not col.not_null)
            plan.columns[mc.name] = cp
            if col is None:
                continue
            if mc.name in fks:
                ref, refcol = fks[mc.name]
                cp.values = [r[0] for r in seeded.get(conn, ref, (refcol,), KEY_SAMPLE)]
                cp.nullable = False
            elif mc.name in unique:
                start = UNIQUE_BASE + worker * UNIQUE_SPAN
                cp.values = convert(conn, info, col, [value_for(col, n) for n in range(start, start + unique_count)])
                cp.unique = True
            else:
                ns = [rng.randrange(1, 1_000_000) for _ in range(CANDIDATES)]
                cp.values = convert(conn, info, col, [value_for(col, n) for n in ns])
                cp.free_text = _free_text(info, col)
            if not cp.values and not mc.server_generated:
                plan.notes.append(f"no value of {mc.name} ({col.type}) passes its checks: writes of it may fail")
    return out


def _free_text(info: TableInfo, col: Column) -> bool:
    unlimited = col.typmod <= 4 or col.typmod - 4 >= 32
    return col.category == "S" and unlimited and not col.allowed and not info.column_checks(col.name)


def convert(conn: Any, info: TableInfo, col: Column, literals: list[str | None]) -> list[Any]:
    """The literals as typed Python values, keeping those that pass the column's own CHECKs."""
    texts = [t for t in literals if t is not None]
    if not texts:
        return []
    checks = info.column_checks(col.name)
    where = sql.SQL(" AND ").join(sql.SQL("({}) IS NOT FALSE").format(sql.SQL(e)) for e in checks) if checks else None
    inner = sql.SQL("SELECT u.x::{} AS {} FROM unnest(%s::text[]) AS u(x)").format(
        sql.SQL(col.type), sql.Identifier(col.name)
    )
    query = sql.SQL("SELECT {} FROM ({}) s").format(sql.Identifier(col.name), inner)
    if where is not None:
        query = sql.SQL("{} WHERE {}").format(query, where)
    try:
        return [r[0] for r in conn.execute(query, (texts,)).fetchall()]
    except Exception:
        out: list[Any] = []
        for text in texts[:CANDIDATES]:  # a domain or a check that rejects some: one at a time
            try:
                out.extend(r[0] for r in conn.execute(query, ([text],)).fetchall())
            except Exception:
                continue
        return out
