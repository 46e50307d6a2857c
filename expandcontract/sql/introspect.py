"""`--database-url`: read the live schema (column types, NOT NULL, validated `CHECK (c IS NOT NULL)`)
instead of a `--schema` file. Read-only catalog queries; psycopg is imported only here."""

from __future__ import annotations

from expandcontract.sql.nodes import not_null_check_column, parse_type
from expandcontract.sql.schema import SchemaModel

_COLUMNS = """
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
"""
_CHECKS = """
SELECT n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid), k.convalidated
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype = 'c' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
"""


_INDEXES = """
SELECT schemaname, indexname, tablename FROM pg_indexes
WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
"""


def _name(schema: str, table: str) -> str:
    return table if schema == "public" else f"{schema}.{table}"


def schema_from_database(url: str) -> SchemaModel:
    from expandcontract.db.connect import connect
    from expandcontract.sql.parse import parse

    model = SchemaModel()
    with connect(url) as conn:
        for schema, table, column, typ, notnull in conn.execute(_COLUMNS).fetchall():
            name = _name(schema, table)
            model.columns.setdefault(name, {})[column] = parse_type(typ)
            if notnull:
                model.not_null.add((name, column))
        for schema, index, table in conn.execute(_INDEXES).fetchall():
            model.indexes[_name(schema, index)] = _name(schema, table)
        for schema, table, conname, definition, validated in conn.execute(_CHECKS).fetchall():
            parsed = parse(f"SELECT 1 WHERE {definition.removeprefix('CHECK ').removesuffix(' NOT VALID')}")
            if parsed.error or not parsed.statements:
                continue
            column = not_null_check_column(parsed.statements[0].node.get("whereClause"))
            if column:
                model.constraints[(_name(schema, table), conname)] = column
                if validated:
                    model.not_null_checks.add((_name(schema, table), column))
    return model
