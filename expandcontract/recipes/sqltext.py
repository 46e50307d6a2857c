"""SQL text for generated revisions: quoting, literals, and renaming column references in SQL we copy.

User expressions (`--using`, `--fill`) and check constraints keep their own text: only the column
references are replaced, at the positions PostgreSQL's parser (pglast) reports. Index and foreign key
definitions are rebuilt from their parse trees. Names longer than PostgreSQL's 63 bytes are shortened
with a hash, as PostgreSQL would otherwise truncate them silently.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pglast import ast as pg
from pglast import keywords, parse_sql, parser
from pglast.stream import RawStream

from expandcontract.recipes.catalog import Refused

MAX_IDENT = 63
_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")
_QUOTE_KEYWORDS = keywords.RESERVED_KEYWORDS | keywords.TYPE_FUNC_NAME_KEYWORDS | keywords.COL_NAME_KEYWORDS


def ident(name: str) -> str:
    """A name as SQL: quoted only when PostgreSQL needs it (`full_name`, `"order"`, `"Name"`)."""
    if _PLAIN.match(name) and name not in _QUOTE_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified(display: str) -> str:
    """`billing.invoices` -> billing.invoices, quoting each part that needs it."""
    schema, dot, name = display.rpartition(".")
    return f"{ident(schema)}.{ident(name)}" if dot else ident(name)


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def short_name(*parts: str) -> str:
    """`parts` joined by `_`, within 63 bytes (the middle replaced by a hash when too long)."""
    name = "_".join(p for p in parts if p)
    if len(name.encode()) <= MAX_IDENT:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    keep = MAX_IDENT - len(digest) - 1
    return name.encode()[:keep].decode(errors="ignore").rstrip("_") + "_" + digest


def _expression(expr: str) -> tuple[Any, int]:
    """Parse `expr` as a SELECT target; returns (node, offset of expr in the parsed text)."""
    prefix = "SELECT "
    try:
        stmts = parse_sql(prefix + expr)
    except parser.ParseError as exc:
        raise Refused(f"{expr!r} is not a SQL expression PostgreSQL can parse ({exc.args[0]})") from None
    select: Any = stmts[0].stmt if len(stmts) == 1 else None
    if not isinstance(select, pg.SelectStmt) or len(select.targetList or ()) != 1 or select.fromClause:
        raise Refused(f"{expr!r} is not one SQL expression")
    targets: Any = select.targetList
    return targets[0].val, len(prefix)


def _column_refs(node: Any) -> list[pg.ColumnRef]:
    found: list[pg.ColumnRef] = []

    def walk(n: Any) -> None:
        if isinstance(n, pg.ColumnRef):
            found.append(n)
            return
        if isinstance(n, pg.Node):
            for slot in n:
                walk(getattr(n, slot))
        elif isinstance(n, tuple | list):
            for item in n:
                walk(item)

    walk(node)
    return found


def _ref_name(ref: Any) -> str | None:
    last = ref.fields[-1] if ref.fields else None
    return last.sval if isinstance(last, pg.String) else None


def referenced_columns(expr: str) -> set[str]:
    """The column names `expr` uses (unqualified or qualified: the last part)."""
    node, _ = _expression(expr)
    return {name for ref in _column_refs(node) if (name := _ref_name(ref)) is not None}


def rename_columns(expr: str, names: dict[str, str]) -> str:
    """`expr` with each reference to a column in `names` replaced by `names[column]` (raw SQL text,
    e.g. `NEW.full_name`); everything else keeps the user's own text."""
    node, offset = _expression(expr)
    text = "SELECT " + expr
    tokens = parser.scan(text)
    spans: list[tuple[int, int, str]] = []
    for ref in _column_refs(node):
        name = _ref_name(ref)
        if name is None or name not in names:
            continue
        # the reference is `len(fields)` name tokens joined by dots, starting at its location
        start: int = ref.location or 0
        first = next(i for i, t in enumerate(tokens) if t.start == start)
        end = tokens[first + 2 * (len(ref.fields or ()) - 1)].end
        spans.append((start, end + 1, names[name]))
    for start, end, replacement in sorted(spans, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text[offset:]


def _deparse(node: Any) -> str:
    return str(RawStream()(node))


def _statement(sql: str) -> Any:
    return parse_sql(sql)[0].stmt


def index_sql(
    definition: str, names: dict[str, str] | None = None, *, name: str | None = None, build: bool = False
) -> str:
    """pg_get_indexdef() output rewritten: the columns in `names` renamed (keys, expressions, INCLUDE and
    predicate), named `name`; `build`: as `CREATE INDEX CONCURRENTLY IF NOT EXISTS` for a revision."""
    stmt = _statement(definition)
    assert isinstance(stmt, pg.IndexStmt)
    if name is not None:
        stmt.idxname = name
    if build:
        stmt.concurrent = True
        stmt.if_not_exists = True
    relation: Any = stmt.relation
    if relation.schemaname == "public":
        relation.schemaname = None
    names = names or {}
    for elem in (*(stmt.indexParams or ()), *(stmt.indexIncludingParams or ())):
        if elem.name in names:
            elem.name = names[elem.name]
    for ref in _column_refs((stmt.indexParams, stmt.whereClause)):
        ref_name = _ref_name(ref)
        if ref_name in names:
            fields: Any = ref.fields
            ref.fields = (*fields[:-1], pg.String(names[ref_name]))
    return _deparse(stmt)


def copy_foreign_key(definition: str, columns: dict[str, str], ref_columns: dict[str, str], ref_table: str) -> str:
    """A FOREIGN KEY definition (pg_get_constraintdef()) with referencing columns renamed by `columns`,
    referenced columns by `ref_columns`, referencing `ref_table` (a SQL name)."""
    con = _statement(f"ALTER TABLE x ADD CONSTRAINT x {definition}").cmds[0].def_
    con.fk_attrs = tuple(pg.String(columns.get(a.sval, a.sval)) for a in con.fk_attrs)
    con.pk_attrs = tuple(pg.String(ref_columns.get(a.sval, a.sval)) for a in con.pk_attrs)
    schema, dot, name = ref_table.rpartition(".")
    con.pktable = pg.RangeVar(schemaname=schema if dot else None, relname=name, inh=True, relpersistence="p")
    con.conname = None
    return _deparse(con)


def check_body(definition: str) -> str:
    """`CHECK ((price > 0))` -> `price > 0` (pg_get_constraintdef() output of a check constraint)."""
    body = definition.removeprefix("CHECK ").removesuffix(" NOT VALID").strip()
    while body.startswith("(") and body.endswith(")") and _balanced(body[1:-1]):
        body = body[1:-1]
    return body


def _balanced(text: str) -> bool:
    depth = 0
    for tok in parser.scan("SELECT " + text):
        if tok.name == "ASCII_40":
            depth += 1
        elif tok.name == "ASCII_41":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0
