"""Read the live schema into a `Catalog`: read-only pg_catalog queries over every user table.

Everything a recipe needs to decide and to write exact SQL: column types, NOT NULL, defaults, identity,
collation and comments; indexes with their definitions and the columns they use; constraints; foreign
keys from other tables; owned sequences; and whatever else depends on a column (views, policies,
triggers, extended statistics, generated columns), which the recipes refuse to touch.
"""

from __future__ import annotations

from typing import Any

from expandcontract.recipes.catalog import (
    Catalog,
    Column,
    Constraint,
    Dependent,
    ForeignKeyIn,
    Index,
    Sequence,
    Table,
)

_USER_NS = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'expandcontract') AND n.nspname NOT LIKE 'pg\\_%'"

_TABLES = f"""
SELECT c.oid, n.nspname, c.relname, c.relkind,
       c.relispartition OR EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid OR i.inhparent = c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND {_USER_NS}
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype = 'e')
"""

_COLUMNS = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
       NULLIF(a.attidentity, ''), NULLIF(a.attgenerated, ''),
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,
       col_description(a.attrelid, a.attnum), a.attacl IS NOT NULL
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attrelid = ANY(%(oids)s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

# The columns an index uses (keys, INCLUDE, expressions, predicate) are its pg_depend entries.
_INDEXES = """
SELECT i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid), i.indisunique, i.indisvalid,
       (SELECT array_agg(DISTINCT a.attname::text) FROM pg_depend d
          JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
           AND d.refclassid = 'pg_class'::regclass AND d.refobjid = i.indrelid AND d.refobjsubid > 0),
       (SELECT k.conname FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid
           AND k.contype IN ('p', 'u', 'x'))
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = ANY(%(oids)s)
"""

_CONSTRAINTS = """
SELECT k.conrelid, k.conname, k.contype, pg_get_constraintdef(k.oid), k.convalidated,
       (SELECT array_agg(a.attname::text ORDER BY x.i) FROM unnest(k.conkey) WITH ORDINALITY x(n, i)
          JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.n),
       ic.relname, k.confrelid,
       (SELECT array_agg(a.attname::text ORDER BY x.i) FROM unnest(k.confkey) WITH ORDINALITY x(n, i)
          JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = x.n),
       k.condeferrable
FROM pg_constraint k LEFT JOIN pg_class ic ON ic.oid = k.conindid AND k.contype IN ('p', 'u', 'x')
WHERE (k.conrelid = ANY(%(oids)s) OR k.confrelid = ANY(%(oids)s)) AND k.contype IN ('p', 'u', 'f', 'c', 'x')
"""

_SEQUENCES = """
SELECT d.refobjid, n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin,
       s.seqmax, s.seqcache, s.seqcycle, a.attname, d.deptype = 'i'
FROM pg_depend d
JOIN pg_class c ON c.oid = d.objid AND c.relkind = 'S' JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_sequence s ON s.seqrelid = c.oid
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
  AND d.refobjid = ANY(%(oids)s)
"""

# What else uses a column: views (their rewrite rules), policies, triggers (UPDATE OF / WHEN), extended
# statistics, other columns' generation expressions. Indexes, constraints and owned sequences are read above.
_DEPENDENTS = """
SELECT d.refobjid, a.attname,
       CASE d.classid
         WHEN 'pg_rewrite'::regclass THEN
           CASE WHEN r.ev_class = d.refobjid THEN 'rule'
                WHEN vc.relkind = 'm' THEN 'materialized view' ELSE 'view' END
         WHEN 'pg_policy'::regclass THEN 'policy'
         WHEN 'pg_trigger'::regclass THEN 'trigger'
         WHEN 'pg_statistic_ext'::regclass THEN 'statistics'
         WHEN 'pg_attrdef'::regclass THEN 'generated column'
         ELSE 'other' END,
       CASE WHEN d.classid = 'pg_rewrite'::regclass AND r.ev_class <> d.refobjid
            THEN CASE WHEN vn.nspname = 'public' THEN '' ELSE vn.nspname || '.' END || vc.relname
            WHEN d.classid = 'pg_attrdef'::regclass
            THEN (SELECT g.attname FROM pg_attribute g WHERE g.attrelid = ad.adrelid AND g.attnum = ad.adnum)
            ELSE pg_describe_object(d.classid, d.objid, d.objsubid) END
FROM pg_depend d
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
LEFT JOIN pg_class vc ON vc.oid = r.ev_class LEFT JOIN pg_namespace vn ON vn.oid = vc.relnamespace
LEFT JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid
WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY(%(oids)s) AND d.refobjsubid > 0
  AND d.deptype = 'n'
  AND d.classid IN ('pg_rewrite'::regclass, 'pg_policy'::regclass, 'pg_trigger'::regclass,
                    'pg_statistic_ext'::regclass, 'pg_attrdef'::regclass)
  AND NOT (d.classid = 'pg_attrdef'::regclass AND ad.adnum = d.refobjsubid)
"""

_TRIGGERS = "SELECT tgrelid, tgname FROM pg_trigger WHERE tgrelid = ANY(%(oids)s) AND NOT tgisinternal"

_RELATIONS = (
    f"SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_USER_NS}"
)
_FUNCTIONS = (
    f"SELECT n.nspname, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {_USER_NS}"
)
_CONSTRAINT_NAMES = f"""
SELECT CASE WHEN n.nspname = 'public' THEN '' ELSE n.nspname || '.' END || c.relname, k.conname
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_USER_NS}
"""


def _display(schema: str, name: str) -> str:
    return name if schema == "public" else f"{schema}.{name}"


def read_catalog(conn: Any) -> Catalog:
    """Read the schema behind `conn` (a psycopg connection); read-only."""
    version = int(conn.execute("SHOW server_version_num").fetchone()[0])
    path = conn.execute("SELECT current_schemas(false)").fetchone()[0]
    catalog = Catalog(server_version=version, search_path=tuple(path))
    by_oid: dict[int, Table] = {}
    for oid, schema, name, kind, inherited in conn.execute(_TABLES).fetchall():
        table = Table(schema=schema, name=name, kind=kind, inherited=bool(inherited))
        by_oid[oid] = table
        catalog.tables[(schema, name)] = table
    args = {"oids": list(by_oid)}
    for oid, name, typ, notnull, default, identity, generated, collation, comment, acl in conn.execute(
        _COLUMNS, args
    ).fetchall():
        by_oid[oid].columns[name] = Column(
            name, typ, bool(notnull), default, identity, generated, collation, comment, bool(acl)
        )
    for oid, name, definition, unique, valid, columns, constraint in conn.execute(_INDEXES, args).fetchall():
        if constraint is None:
            by_oid[oid].indexes.append(Index(name, definition, tuple(sorted(columns or ())), bool(unique), bool(valid)))
    for row in conn.execute(_CONSTRAINTS, args).fetchall():
        relid, name, kind, definition, validated, columns, index, frelid, fcolumns, deferrable = row
        ref = by_oid.get(frelid)
        con = Constraint(
            name=name,
            kind=kind,
            definition=definition,
            columns=tuple(columns or ()),
            validated=bool(validated),
            index=index,
            ref_table=ref.display if ref is not None else None,
            ref_columns=tuple(fcolumns or ()),
            deferrable=bool(deferrable),
        )
        if relid in by_oid:
            by_oid[relid].constraints.append(con)
        if kind == "f" and ref is not None and relid in by_oid:
            ref.incoming.append(ForeignKeyIn(by_oid[relid].display, con))
    for row in conn.execute(_SEQUENCES, args).fetchall():
        relid, schema, name, typ, start, inc, lo, hi, cache, cycle, column, identity = row
        by_oid[relid].sequences.append(
            Sequence(_display(schema, name), typ, start, inc, lo, hi, cache, bool(cycle), column, bool(identity))
        )
    for relid, column, kind, description in conn.execute(_DEPENDENTS, args).fetchall():
        by_oid[relid].dependents.setdefault(column, []).append(Dependent(kind, description))
    for relid, name in conn.execute(_TRIGGERS, args).fetchall():
        by_oid[relid].triggers.add(name)
    catalog.relations = {(s, n) for s, n in conn.execute(_RELATIONS).fetchall()}
    catalog.functions = {(s, n) for s, n in conn.execute(_FUNCTIONS).fetchall()}
    catalog.constraint_names = {(t, n) for t, n in conn.execute(_CONSTRAINT_NAMES).fetchall()}
    return catalog
