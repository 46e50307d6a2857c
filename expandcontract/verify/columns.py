"""What verify knows about a table in order to write rows into it, read from the catalog.

Columns with their (base) types, NOT NULL, defaults and server-filled values, the primary key, foreign
keys and `CHECK (col IN (...))` lists; and, per type, a text literal that differs for each n. Kept apart
from data.py so the row writer stays about rows, not about types.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from expandcontract.verify.snapshot import VERSION_TABLE

_USER = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'expandcontract') "
    "AND n.nspname NOT LIKE 'pg\\_%%' AND c.relname <> '" + VERSION_TABLE + "' "
    "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
    "AND d.objid = c.oid AND d.deptype = 'e')"
)

COLUMNS_SQL = f"""
SELECT c.oid::regclass::text, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.atthasdef, coalesce(pg_get_expr(ad.adbin, ad.adrelid), '') LIKE 'nextval(%%',
       a.attidentity <> '' OR a.attgenerated <> '',
       bt.typcategory, bt.typname,
       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
       (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = bt.oid),
       CASE WHEN n.nspname = 'public' THEN '' ELSE n.nspname || '.' END || c.relname
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped AND {_USER}
ORDER BY c.oid, a.attnum"""

CONSTRAINTS_SQL = f"""
SELECT k.contype, c.oid::regclass::text, k.confrelid::regclass::text,
       (SELECT array_agg(a.attname::text ORDER BY x.i) FROM unnest(k.conkey) WITH ORDINALITY x(n, i)
          JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.n),
       (SELECT array_agg(a.attname::text ORDER BY x.i) FROM unnest(k.confkey) WITH ORDINALITY x(n, i)
          JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = x.n),
       pg_get_constraintdef(k.oid)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype IN ('p', 'f', 'c') AND {_USER}"""

_LITERAL = re.compile(r"'((?:[^']|'')*)'")


@dataclass
class Column:
    name: str
    type: str
    not_null: bool
    has_default: bool
    generated: bool  # identity, serial or generated: the server fills it
    category: str
    base: str
    typmod: int
    labels: list[str] | None
    allowed: list[str] | None = None


@dataclass
class Table:
    name: str  # regclass text, already quoted where needed
    key_name: str = ""  # as snapshots name it: `users`, `audit.log`
    columns: list[Column] = field(default_factory=list)
    key: list[str] = field(default_factory=list)
    fks: list[tuple[list[str], str, list[str]]] = field(default_factory=list)


_CACHE: dict[str, dict[str, Table]] = {}


def tables_of(conn: Any, signature: str | None = None) -> dict[str, Table]:
    """Tables, their columns, keys and foreign keys; cached by the schema's `signature` when given."""
    if signature is not None and signature in _CACHE:
        return _CACHE[signature]
    found = _read_tables(conn)
    if signature is not None:
        _CACHE.clear()
        _CACHE[signature] = found
    return found


def _read_tables(conn: Any) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    for row in conn.execute(COLUMNS_SQL).fetchall():
        table = tables.setdefault(row[0], Table(row[0], row[11]))
        serial = bool(row[5]) or bool(row[6])
        table.columns.append(Column(row[1], row[2], row[3], row[4], serial, row[7], row[8], row[9], row[10]))
    for contype, rel, ref, cols, refcols, definition in conn.execute(CONSTRAINTS_SQL).fetchall():
        found = tables.get(rel)
        if found is None or not cols:
            continue
        table = found
        if contype == "p":
            table.key = list(cols)
        elif contype == "f" and refcols:
            table.fks.append((list(cols), ref, list(refcols)))
        elif contype == "c" and len(cols) == 1 and "= ANY (ARRAY[" in definition:
            values = [v.replace("''", "'") for v in _LITERAL.findall(definition)]
            for col in table.columns:
                if col.name == cols[0] and values:
                    col.allowed = values
    return tables


def ordered(tables: dict[str, Table]) -> list[Table]:
    """Referenced tables before the tables that reference them (cycles broken arbitrarily)."""
    done: list[Table] = []
    seen: set[str] = set()

    def visit(name: str, path: set[str]) -> None:
        if name in seen or name in path or name not in tables:
            return
        path.add(name)
        for _, ref, _ in tables[name].fks:
            visit(ref, path)
        seen.add(name)
        done.append(tables[name])

    for name in tables:
        visit(name, set())
    return done


def value_for(col: Column, n: int) -> str | None:
    """A text literal of `col`'s type, different for each n; None when the type is not known."""
    if col.allowed:
        return col.allowed[n % len(col.allowed)]
    if col.labels:
        return col.labels[n % len(col.labels)]
    base, cat, mod = col.base, col.category, col.typmod
    if base in ("int2",):
        return str(n % 32000)
    if base in ("int4", "int8", "oid"):
        return str(n)
    if base == "numeric":
        if mod > 4:
            precision, scale = ((mod - 4) >> 16) & 0xFFFF, (mod - 4) & 0xFFFF
            return str(Decimal(n % (10 ** max(precision - scale, 1) - 1) or 1))
        return f"{n}.25"
    if cat == "N":
        return f"{n}.5"
    if cat == "S":
        text = f"s{n}"
        length = mod - 4 if mod > 4 else 0
        return text[-length:] if length else text
    if cat == "B":
        return "true" if n % 2 else "false"
    if base == "date":
        return (dt.date(2024, 1, 1) + dt.timedelta(days=n % 20000)).isoformat()
    if base in ("timestamp", "timestamptz"):
        return (dt.datetime(2024, 1, 1) + dt.timedelta(minutes=n)).isoformat(sep=" ")
    if base in ("time", "timetz"):
        return f"{n % 24:02d}:{n % 60:02d}:00"
    if base == "interval":
        return f"{n} minutes"
    if base == "uuid":
        return str(uuid.UUID(int=n))
    if base in ("json", "jsonb"):
        return f'{{"n": {n}}}'
    if base == "bytea":
        return "\\x" + n.to_bytes(4, "big").hex()
    if base in ("inet", "cidr"):
        return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" + ("/32" if base == "cidr" else "")
    if cat == "A":
        return "{}"
    if cat == "R":
        return "empty"
    return None
