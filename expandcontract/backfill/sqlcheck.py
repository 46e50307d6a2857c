"""`values=` and `where=` of a backfill are each ONE SQL expression, checked by PostgreSQL's own parser.

The batches splice these texts into `UPDATE ... SET col = (expr) WHERE key-range AND (where)`. A text that
closes the parenthesis and starts another statement (`true) ; DROP TABLE orders; SELECT (1`) or adds
clauses (`1) FROM pg_sleep(60) WHERE (true`) would run as SQL of its own, so each text is parsed (pglast,
the server's grammar) as `SELECT (text)` and must come out as exactly one statement with exactly one
target and no other clause. Pure: no database, no state; the op calls it before anything runs.
"""

from __future__ import annotations

import json
from typing import Any

from expandcontract.backfill.errors import BackfillInputError

# The only keys pglast gives a bare `SELECT (expr)`; anything more is a clause the text smuggled in.
_BARE_SELECT = {"targetList", "limitOption", "op"}
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


def expression(text: Any, what: str) -> str:
    """`text` if it is one SQL expression; else BackfillInputError naming `what` (e.g. `where=`)."""
    if not isinstance(text, str):
        raise BackfillInputError(f"op.backfill() {what} must be a string of SQL, got {type(text).__name__}")
    if not text.strip():
        raise BackfillInputError(f"op.backfill() {what} is empty; give one SQL expression (e.g. 'false')")
    if "\x00" in text:
        raise BackfillInputError(f"op.backfill() {what} contains a NUL byte; give one SQL expression")
    problem = _problem(text)
    if problem is not None:
        raise BackfillInputError(
            f"op.backfill() {what} {text[:80]!r}{'...' if len(text) > 80 else ''} is not one SQL expression "
            f'({problem}); pass a single expression such as "lower(email)" or "verified IS NULL", no \';\' '
            "and no clauses of its own"
        )
    return text


def _problem(text: str) -> str | None:
    from pglast.parser import ParseError, parse_sql_json

    try:
        doc = json.loads(parse_sql_json(f"SELECT ({text})"))
    except ParseError as exc:
        detail = str(exc.args[0] if exc.args else exc).encode("unicode_escape").decode("ascii")
        return f"it does not parse: {detail}"  # escaped: the line stays one line whatever the text holds
    stmts = doc.get("stmts", [])
    if len(stmts) != 1:
        return f"it makes {len(stmts)} statements"
    select = stmts[0].get("stmt", {}).get("SelectStmt")
    if select is None:
        return "it is not an expression"
    extra = sorted(set(select) - _BARE_SELECT)
    if extra or select.get("op") != "SETOP_NONE" or select.get("limitOption") != "LIMIT_OPTION_DEFAULT":
        return f"it adds {', '.join(extra) or 'a set operation'}"
    targets = select.get("targetList", [])
    if len(targets) != 1:
        return f"it makes {len(targets)} expressions"
    if set(targets[0].get("ResTarget", {})) - {"val", "location"}:
        return "it names its result"
    return None


def check_arguments(values: Any, where: Any) -> None:
    """Every value and the where of an op.backfill() call (pure; raises BackfillInputError)."""
    if not isinstance(values, dict) or not values:
        raise BackfillInputError("op.backfill() needs values={column: SQL expression, ...}; it is empty")
    for column, expr in values.items():
        if not isinstance(column, str) or not column:
            raise BackfillInputError(f"op.backfill() values= has the key {column!r}; keys are column names")
        expression(expr, f"values[{column!r}]")
    if where is not None:
        expression(where, "where=")


def system_schema(schema: str) -> bool:
    return schema in SYSTEM_SCHEMAS or schema.startswith(("pg_toast", "pg_temp"))
