"""`add-check-validated`: ADD CHECK without NOT VALID (full scan under ACCESS EXCLUSIVE)."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.match import added_columns, added_constraints, column_constraints
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.lint.sqltext import check_expr
from expandcontract.sql import locks
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `ADD [CONSTRAINT ...] CHECK (...)` without `NOT VALID` (Alembic `op.create_check_constraint`
        without `postgresql_not_valid=True`) on an existing table, and a CHECK written on `ADD COLUMN`
        (`sa.Column(..., sa.CheckConstraint(...))`), which is verified against every existing row too.

    Why is this bad?:
        PostgreSQL checks every existing row while holding an ACCESS EXCLUSIVE lock: no reads or writes
        for the whole scan.

    Example:
        ```sql
        ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);
        ```

    Use instead:
        ```python
        # expand
        op.create_check_constraint("orders_total_positive", "orders", "total >= 0",
                                   postgresql_not_valid=True)
        # a later, separate revision
        op.execute("ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive")
        ```
    """

    id = "add-check-validated"
    kinds = frozenset({"AlterTableStmt.AT_AddColumn", "AlterTableStmt.AT_AddConstraint"})
    summary = "ADD CHECK without NOT VALID"
    why = "Adding a CHECK scans every row while an ACCESS EXCLUSIVE lock blocks all reads and writes."
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int)",
            "ALTER TABLE t ADD CONSTRAINT t_ck CHECK (id > 0)",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=False,
            scan=True,
        ),
        LockCheck(  # a CHECK written on ADD COLUMN is verified against every existing row too
            "CREATE TABLE t (id int); INSERT INTO t VALUES (1)",
            "ALTER TABLE t ADD COLUMN c int CHECK (c > 0)",
            "t",
            locks.ACCESS_EXCLUSIVE,
            scan=True,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        column_checks = [
            (table, {**c, "conname": c.get("conname") or f"{table.split('.')[-1]}_{col.get('colname')}_check"})
            for table, col in added_columns(stmt)
            for c in column_constraints(col)
            if c.get("contype") == "CONSTR_CHECK"
        ]  # ADD COLUMN c int CHECK (c > 0): the new column's check is verified on every existing row
        for table, con in [*added_constraints(stmt), *column_checks]:
            if con.get("contype") != "CONSTR_CHECK" or con.get("skip_validation") or not ctx.existing(table):
                continue
            name = str(con.get("conname") or f"{table.split('.')[-1]}_check")
            expr = check_expr(stmt.text) or "(...)"
            if ctx.alembic:
                fix = [
                    f"Expand: `op.create_check_constraint({s(name)}, {s(table)}, {expr[1:-1]!r}, "
                    "postgresql_not_valid=True)`: new rows are checked at once.",
                    f'Contract (a separate revision): `op.execute("ALTER TABLE {q(table)} VALIDATE CONSTRAINT '
                    f'{q(name)}")` (SHARE UPDATE EXCLUSIVE: reads and writes continue).',
                ]
            else:
                fix = [
                    f"Expand: `ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} CHECK {expr} NOT VALID;`",
                    f"Contract (a separate migration): `ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(name)};`",
                ]
            yield Hit(
                f"Adding CHECK {q(name)} on {q(table)} without NOT VALID scans the table under an ACCESS "
                "EXCLUSIVE lock",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " for the whole scan",
            )
