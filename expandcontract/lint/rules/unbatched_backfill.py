"""`unbatched-backfill`: UPDATE/DELETE of a whole table in one statement."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.rule import PHASE, Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.nodes import table_name
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any


def batched(where: Any) -> bool:
    """A WHERE that bounds the rows touched: a key range (BETWEEN, or both a lower and an upper bound),
    equality on a constant, an IN list, or a subquery with LIMIT."""
    if not where:
        return False
    lower = upper = False
    stack = [where]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        expr = node.get("A_Expr")
        if isinstance(expr, dict):
            kind = expr.get("kind")
            op = expr.get("name", [{}])[0].get("String", {}).get("sval") if expr.get("name") else None
            if kind in ("AEXPR_BETWEEN", "AEXPR_BETWEEN_SYM", "AEXPR_IN"):
                return True
            if kind == "AEXPR_OP_ANY" or (kind == "AEXPR_OP" and op == "=" and _const(expr.get("rexpr"))):
                return True
            if kind == "AEXPR_OP" and op in ("<", "<="):
                upper = True
            if kind == "AEXPR_OP" and op in (">", ">="):
                lower = True
        select = node.get("SelectStmt")
        if isinstance(select, dict) and select.get("limitCount"):
            return True
        stack.extend(node.values())
    return lower and upper


def _const(node: Any) -> bool:
    return isinstance(node, dict) and ("A_Const" in node or "ParamRef" in node)


class RULE(Rule):
    """
    What it does:
        In a phased revision (or a .sql file linted with `--phase`), flags `UPDATE` / `DELETE` of an
        existing table whose WHERE does not bound a batch (no WHERE, or only a filter like `IS NULL`),
        instead of the batched backfill operation (`op.backfill`).

    Why is this bad?:
        One statement locks every row it touches until it commits: concurrent writers of those rows wait,
        for minutes on a big table, and a failure rolls back all the work.

    Example:
        ```python
        op.execute("UPDATE users SET email_verified = false WHERE email_verified IS NULL")
        ```

    Use instead:
        ```python
        op.backfill("users", values={"email_verified": "false"}, where="email_verified IS NULL")
        ```
    """

    id = "unbatched-backfill"
    kinds = frozenset({"UpdateStmt", "DeleteStmt"})
    kind = PHASE
    summary = "UPDATE/DELETE of a whole table instead of the batched backfill"
    why = (
        "A single UPDATE/DELETE locks every row it touches until commit: writers of those rows wait for the "
        "whole statement, and a failure loses all the work."
    )

    lock_checks = (
        LockCheck("CREATE TABLE t (id int, v int); INSERT INTO t SELECT generate_series(1, 100)",
                  "UPDATE t SET v = 1", "t", locks.ROW_EXCLUSIVE, rewrite=False),
    )  # fmt: skip

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        if not ctx.phased or stmt.kind not in ("UpdateStmt", "DeleteStmt"):
            return
        table = table_name(stmt.node.get("relation"))
        if not ctx.existing(table) or batched(stmt.node.get("whereClause")):
            return
        verb = stmt.kind.removesuffix("Stmt").upper()
        if ctx.alembic:
            fix = [
                f"Replace it with `op.backfill({s(table)}, ...)` in the migrate revision: keyset batches, one "
                "commit each, resumable.",
            ]
        else:
            fix = [
                f"Run it in batches by key: `{verb} ... WHERE id BETWEEN :lo AND :hi`, committing after each "
                "batch (or use `expandcontract backfill`).",
            ]
        yield Hit(
            f"{verb} of the whole {q(table)} table in one statement locks every row it touches until commit",
            fix,
            table,
            locks.describe(locks.ROW_EXCLUSIVE, q(table)),
        )
