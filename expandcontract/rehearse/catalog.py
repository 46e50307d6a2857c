"""What seeding and traffic need to know about the scratch database's tables, read from the catalog.

verify's table reader gives columns, base types, NOT NULL, server-filled columns, primary and foreign
keys; this adds the unique column sets (constraints and unique indexes) and every CHECK expression
with the columns it reads, so generated values respect them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from expandcontract.verify.columns import Table, ordered, tables_of

EXTRAS_SQL = """
SELECT c.oid::regclass::text, 'u', NULL,
       (SELECT array_agg(a.attname::text ORDER BY x.i) FROM unnest(i.indkey::int2[]) WITH ORDINALITY x(n, i)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = x.n)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indisunique AND i.indexprs IS NULL AND i.indpred IS NULL
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
UNION ALL
SELECT k.conrelid::regclass::text, 'c', pg_get_expr(k.conbin, k.conrelid),
       (SELECT array_agg(a.attname::text ORDER BY x.i) FROM unnest(k.conkey) WITH ORDINALITY x(n, i)
          JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.n)
FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
WHERE k.contype = 'c' AND k.conrelid <> 0 AND n.nspname NOT IN ('pg_catalog', 'information_schema')
"""


@dataclass
class Check:
    expression: str
    columns: list[str]


@dataclass
class TableInfo:
    table: Table
    unique: list[list[str]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.table.name

    def unique_columns(self) -> set[str]:
        return {c for cols in self.unique for c in cols} | set(self.table.key)

    def column_checks(self, column: str) -> list[str]:
        """The CHECK expressions that read only `column`."""
        return [c.expression for c in self.checks if c.columns == [column]]

    def row_checks(self) -> list[str]:
        """The CHECK expressions that read several columns."""
        return [c.expression for c in self.checks if len(c.columns) > 1]


def read(conn: Any) -> dict[str, TableInfo]:
    """Every user table (verify's selection: no catalogs, no extension tables, no alembic_version)."""
    infos = {name: TableInfo(t) for name, t in tables_of(conn).items()}
    for rel, kind, expression, cols in conn.execute(EXTRAS_SQL).fetchall():
        info = infos.get(rel)
        if info is None or not cols:
            continue
        if kind == "u":
            info.unique.append(list(cols))
        else:
            info.checks.append(Check(expression, list(cols)))
    return infos


def parents_first(infos: dict[str, TableInfo]) -> list[TableInfo]:
    return [infos[t.name] for t in ordered({name: info.table for name, info in infos.items()})]
