"""`not-valid-check-before-backfill`: a NOT VALID CHECK that rows already in the table violate."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.match import added_constraints
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.lint.sqltext import check_expr_not_valid
from expandcontract.sql import locks
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any


def null_rejected(expr: Any) -> list[str]:
    """Columns the CHECK rejects NULL in: `c IS NOT NULL`, alone or ANDed with other conditions."""
    if not isinstance(expr, dict):
        return []
    test = expr.get("NullTest")
    if test and test.get("nulltesttype") == "IS_NOT_NULL":
        fields = test.get("arg", {}).get("ColumnRef", {}).get("fields", ())
        name = fields[-1].get("String", {}).get("sval") if fields else None
        return [str(name)] if name else []
    boolean = expr.get("BoolExpr")
    if boolean and boolean.get("boolop") == "AND_EXPR":
        return [c for arg in boolean.get("args", ()) for c in null_rejected(arg)]
    return []


def referenced(expr: Any) -> list[str]:
    found: list[str] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("ColumnRef")
            if isinstance(ref, dict):
                fields = ref.get("fields", ())
                name = fields[-1].get("String", {}).get("sval") if fields else None
                if name:
                    found.append(str(name))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return sorted(set(found))


class RULE(Rule):
    """
    What it does:
        Flags `ADD CONSTRAINT ... CHECK (...) NOT VALID` that rows already in the table are known to
        violate: a `col IS NOT NULL` check on a column this migration (or this change) added without a
        default, or a check on a column that this change's migrate backfills, added before that
        backfill. A NOT VALID check added after the backfill (in the contract) is the fix and is never
        flagged; neither is one the existing rows satisfy (a default given at ADD COLUMN fills them).

    Why is this bad?:
        NOT VALID skips the scan, but PostgreSQL checks the constraint on every new row version: every
        UPDATE of a row that violates it fails (`violates check constraint`), whatever column the UPDATE
        sets. Until the backfill reaches a row, the running release (and the new one) cannot update it.

    Example:
        ```python
        # expand
        op.add_column("users", sa.Column("email_verified", sa.Boolean(), nullable=True))
        op.execute("ALTER TABLE users ADD CONSTRAINT users_email_verified_not_null "
                   "CHECK (email_verified IS NOT NULL) NOT VALID")
        ```

    Use instead:
        Expand: add the column (a default for new rows). Migrate: backfill. Contract: add the check and
        validate it, each in its own transaction, then SET NOT NULL.
        ```python
        # contract
        with op.get_context().autocommit_block():
            op.execute("ALTER TABLE users ADD CONSTRAINT users_email_verified_not_null "
                       "CHECK (email_verified IS NOT NULL) NOT VALID")
            op.execute("ALTER TABLE users VALIDATE CONSTRAINT users_email_verified_not_null")
        op.alter_column("users", "email_verified", nullable=False)
        ```
    """

    id = "not-valid-check-before-backfill"
    kinds = frozenset({"AlterTableStmt.AT_AddConstraint"})
    summary = "ADD CHECK NOT VALID that existing rows violate (before the backfill)"
    why = (
        "PostgreSQL enforces a NOT VALID check on every new row version: each UPDATE of a row that violates it "
        "fails until the backfill reaches that row."
    )
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int); INSERT INTO t VALUES (1); ALTER TABLE t ADD COLUMN c int",
            "ALTER TABLE t ADD CONSTRAINT t_c_nn CHECK (c IS NOT NULL) NOT VALID",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=False,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        for table, con in added_constraints(stmt):
            if con.get("contype") != "CONSTR_CHECK" or not con.get("skip_validation") or not ctx.existing(table):
                continue
            expr = con.get("raw_expr")
            name = str(con.get("conname") or f"{table.split('.')[-1]}_check")
            unfilled = [c for c in null_rejected(expr) if ctx.unfilled(table, c)]
            if unfilled:
                yield self._hit(ctx, table, name, unfilled[0], stmt, None)
                continue
            if ctx.phase in ("expand", "migrate") and ctx.change:
                for column in referenced(expr):
                    if (table, column) not in ctx.change_state.backfilled:
                        yield self._hit(ctx, table, name, column, stmt, (table, column))

    def _hit(
        self, ctx: LintContext, table: str, name: str, column: str, stmt: Statement, pending: tuple[str, str] | None
    ) -> Hit:
        expr = check_expr_not_valid(stmt.text) or f"({q(column)} IS NOT NULL)"
        add = f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} CHECK {expr} NOT VALID"
        validate = f"ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(name)}"
        if ctx.alembic:
            fix = [
                f"Remove the check from this {ctx.phase or 'revision'}; keep the column (give it "
                f"`server_default=` at add_column for new rows).",
                f'Migrate: `op.backfill({s(table)}, values={{{s(column)}: ...}}, where="{column} IS NULL")`.',
                f'Contract: `with op.get_context().autocommit_block(): op.execute("{add}"); op.execute("{validate}")` '
                "(separate transactions), then the SET NOT NULL if that is the point.",
            ]
        else:
            fix = [
                f"Remove `{add};` from this migration; give the column a default at ADD COLUMN for new rows.",
                f"Backfill {q(column)} in batches in a later migration.",
                f"Afterwards, in a migration without a transaction: `{add};` then `{validate};`",
            ]
        when = "before its backfill" if pending else "while rows already in it hold NULL there"
        return Hit(
            f"Adding NOT VALID check {q(name)} on {q(table)} {when} makes every UPDATE of a row whose "
            f"{q(column)} violates it fail until the backfill reaches that row",
            fix,
            table,
            locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " (brief); then failed UPDATEs",
            pending_on=pending,
        )
