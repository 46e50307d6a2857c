"""A catalog snapshot: everything a downgrade must put back, read from pg_catalog and keyed by name.

Comparing two snapshots is how verify proves a revision round-trips, so every object is keyed by its
qualified name (never an OID, which changes when an object is dropped and re-created) and every value
is normalised to what a user wrote: `pg_get_*def()` text, type names, role names. Objects owned by an
extension are left out (the extension itself is compared), and so are our own bookkeeping (schema
`expandcontract`) and `alembic_version`. ACLs are compared as `COALESCE(acl, acldefault(kind, owner))`,
so a GRANT followed by its REVOKE (NULL becomes an explicit default ACL) is not a difference.
"""

from __future__ import annotations

from typing import Any

# category -> object key -> attribute -> value (JSON-able)
Snapshot = dict[str, dict[str, dict[str, Any]]]

VERSION_TABLE = "alembic_version"

_USER_NS = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'expandcontract') "
    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'"
)


def _not_ext(catalog: str, oid: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass "
        f"AND d.objid = {oid} AND d.deptype = 'e')"
    )


_REL = f"{_USER_NS} AND c.relname <> '{VERSION_TABLE}' AND {_not_ext('pg_class', 'c.oid')}"
_QNAME = "CASE WHEN n.nspname = 'public' THEN '' ELSE n.nspname || '.' END"

QUERIES: dict[str, str] = {
    "schema": f"""
        SELECT n.nspname, pg_get_userbyid(n.nspowner) AS owner
        FROM pg_namespace n WHERE {_USER_NS} AND {_not_ext("pg_namespace", "n.oid")}""",
    "table": f"""
        SELECT {_QNAME} || c.relname,
               CASE c.relkind WHEN 'p' THEN 'partitioned' WHEN 'f' THEN 'foreign' ELSE 'table' END AS kind,
               pg_get_userbyid(c.relowner) AS owner,
               c.relpersistence = 'u' AS unlogged,
               c.relrowsecurity AS row_level_security,
               c.relforcerowsecurity AS forced_row_level_security,
               c.relreplident AS replica_identity,
               c.reloptions::text AS options,
               CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
               pg_get_expr(c.relpartbound, c.oid) AS partition_bound,
               (SELECT string_agg(p.relname, ', ' ORDER BY p.relname) FROM pg_inherits i
                  JOIN pg_class p ON p.oid = i.inhparent WHERE i.inhrelid = c.oid) AS inherits
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'f') AND {_REL}""",
    "column": f"""
        WITH rels AS MATERIALIZED (
            SELECT c.oid, {_QNAME} || c.relname AS qname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'f') AND {_REL})
        SELECT r.qname || '.' || a.attname,
               format_type(a.atttypid, a.atttypmod) AS type,
               a.attnotnull AS not_null,
               CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS "default",
               NULLIF(a.attidentity, '') AS identity,
               CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS generated,
               co.collname AS collation,
               NOT nn.convalidated AS not_null_not_valid
        FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> t.typcollation
        LEFT JOIN pg_constraint nn ON nn.conrelid = r.oid AND nn.contype = 'n' AND nn.conkey[1] = a.attnum
        WHERE a.attnum > 0 AND NOT a.attisdropped""",
    "constraint": f"""
        SELECT {_QNAME} || c.relname || '.' || k.conname,
               pg_get_constraintdef(k.oid, true) AS definition,
               k.convalidated AS validated,
               k.condeferrable AS deferrable,
               k.condeferred AS initially_deferred
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE k.contype <> 'n' AND {_REL}""",
    "index": f"""
        SELECT {_QNAME} || ic.relname,
               {_QNAME} || c.relname AS "table",
               pg_get_indexdef(i.indexrelid) AS definition,
               pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
               i.indisvalid AS valid,
               i.indisready AS ready,
               i.indisclustered AS clustered
        FROM pg_index i
        JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_REL}
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                          AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))""",
    "sequence": f"""
        SELECT {_QNAME} || c.relname,
               format_type(s.seqtypid, NULL) AS type, s.seqstart AS start,
               s.seqincrement AS increment, s.seqmin AS min, s.seqmax AS max,
               s.seqcache AS cache, s.seqcycle AS cycle,
               (SELECT oc.relname || '.' || oa.attname FROM pg_depend d
                  JOIN pg_class oc ON oc.oid = d.refobjid
                  JOIN pg_attribute oa ON oa.attrelid = d.refobjid AND oa.attnum = d.refobjsubid
                 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                 LIMIT 1) AS owned_by
        FROM pg_sequence s
        JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_REL}""",
    "view": f"""
        SELECT {_QNAME} || c.relname,
               CASE c.relkind WHEN 'm' THEN 'materialized' ELSE 'view' END AS kind,
               pg_get_viewdef(c.oid, true) AS definition,
               c.reloptions::text AS options,
               pg_get_userbyid(c.relowner) AS owner
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND {_REL}""",
    "function": f"""
        SELECT {_QNAME} || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
               CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
                              WHEN 'w' THEN 'window' ELSE 'function' END AS kind,
               CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END AS definition,
               pg_get_function_result(p.oid) AS returns,
               pg_get_userbyid(p.proowner) AS owner
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE {_USER_NS} AND {_not_ext("pg_proc", "p.oid")}""",
    "trigger": f"""
        SELECT {_QNAME} || c.relname || '.' || t.tgname,
               pg_get_triggerdef(t.oid, true) AS definition,
               t.tgenabled AS enabled
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal AND {_REL}""",
    "event trigger": f"""
        SELECT e.evtname, e.evtevent AS event, e.evtfoid::regprocedure::text AS function,
               e.evtenabled AS enabled, e.evttags::text AS tags
        FROM pg_event_trigger e WHERE {_not_ext("pg_event_trigger", "e.oid")}""",
    "type": f"""
        SELECT {_QNAME} || t.typname,
               CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'c' THEN 'composite'
                              WHEN 'r' THEN 'range' ELSE t.typtype::text END AS kind,
               CASE WHEN t.typtype = 'e' THEN (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
                    FROM pg_enum e WHERE e.enumtypid = t.oid) END AS labels,
               CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
               CASE WHEN t.typtype = 'd' THEN t.typnotnull END AS not_null,
               t.typdefault AS "default",
               CASE WHEN t.typtype = 'd' THEN (SELECT array_agg(k.conname || ' ' ||
                    pg_get_constraintdef(k.oid, true) ORDER BY k.conname)
                    FROM pg_constraint k WHERE k.contypid = t.oid) END AS checks,
               CASE WHEN t.typtype = 'c' THEN (SELECT array_agg(a.attname || ' ' ||
                    format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
                    FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0
                    AND NOT a.attisdropped) END AS attributes
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype IN ('e', 'd', 'c', 'r') AND {_USER_NS} AND {_not_ext("pg_type", "t.oid")}
          AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')""",
    "extension": """
        SELECT x.extname, x.extversion AS version, n.nspname AS schema
        FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace""",
    "comment": f"""
        SELECT o.type || ' ' || o.identity, d.description AS text
        FROM pg_description d, LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) o
        WHERE d.objoid >= 16384 AND d.classoid <> 'pg_extension'::regclass
          AND (o.schema IS NULL OR o.schema NOT IN ('pg_catalog', 'information_schema', 'expandcontract'))
          AND o.identity NOT LIKE '%{VERSION_TABLE}%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = d.classoid
                          AND x.objid = d.objoid AND x.deptype = 'e')""",
    "policy": f"""
        SELECT {_QNAME} || c.relname || '.' || p.polname,
               p.polcmd AS command, p.polpermissive AS permissive,
               (SELECT array_agg(s.role ORDER BY s.role) FROM (SELECT CASE r WHEN 0 THEN 'PUBLIC'
                  ELSE pg_get_userbyid(r) END AS role FROM unnest(p.polroles) r) s) AS roles,
               pg_get_expr(p.polqual, p.polrelid, true) AS "using",
               pg_get_expr(p.polwithcheck, p.polrelid, true) AS with_check
        FROM pg_policy p
        JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_REL}""",
}

_GRANTS = (
    "(SELECT array_agg(DISTINCT CASE g.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(g.grantee) END"
    " || ' ' || g.privilege_type || CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)"
    " FROM aclexplode({acl}) g)"
)

_REL_KIND = "(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::\"char\""
_G0 = _GRANTS.format(acl=f"COALESCE(c.relacl, acldefault({_REL_KIND}, c.relowner))")
_G1 = _GRANTS.format(acl="a.attacl")
_G2 = _GRANTS.format(acl="COALESCE(p.proacl, acldefault('f'::\"char\", p.proowner))")
_G3 = _GRANTS.format(acl="COALESCE(n.nspacl, acldefault('n'::\"char\", n.nspowner))")
_G4 = _GRANTS.format(acl="COALESCE(t.typacl, acldefault('T'::\"char\", t.typowner))")
_G5 = _GRANTS.format(acl="d.defaclacl")

PRIVILEGE_QUERY = f"""
    SELECT CASE c.relkind WHEN 'S' THEN 'sequence ' WHEN 'v' THEN 'view ' WHEN 'm' THEN 'view '
                ELSE 'table ' END || {_QNAME} || c.relname,
           {_G0}
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND {_REL}
  UNION ALL
    SELECT 'column ' || {_QNAME} || c.relname || '.' || a.attname, {_G1}
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND {_REL}
  UNION ALL
    SELECT 'function ' || {_QNAME} || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
           {_G2}
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE {_USER_NS} AND {_not_ext("pg_proc", "p.oid")}
  UNION ALL
    SELECT 'schema ' || n.nspname, {_G3}
    FROM pg_namespace n WHERE {_USER_NS} AND {_not_ext("pg_namespace", "n.oid")}
  UNION ALL
    SELECT 'type ' || {_QNAME} || t.typname,
           {_G4}
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE t.typtype IN ('e', 'd', 'r') AND {_USER_NS} AND {_not_ext("pg_type", "t.oid")}
  UNION ALL
    SELECT 'default privileges of ' || pg_get_userbyid(d.defaclrole)
           || COALESCE(' in schema ' || dn.nspname, '') || ' on ' || d.defaclobjtype::text,
           {_G5}
    FROM pg_default_acl d LEFT JOIN pg_namespace dn ON dn.oid = d.defaclnamespace"""


def take(conn: Any) -> Snapshot:
    """Snapshot the database behind `conn` (a psycopg connection; read-only queries)."""
    snap: Snapshot = {}
    for category, sql in QUERIES.items():
        cur = conn.execute(sql)
        names = [d.name for d in cur.description][1:]
        objects: dict[str, dict[str, Any]] = {}
        for row in cur.fetchall():
            objects[str(row[0])] = {name: _plain(value) for name, value in zip(names, row[1:], strict=True)}
        snap[category] = objects
    privileges: dict[str, dict[str, Any]] = {}
    for key, grants in conn.execute(PRIVILEGE_QUERY).fetchall():
        privileges[str(key)] = {"grants": sorted(grants or [])}
    snap["privileges"] = privileges
    return snap


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value)
