"""`set-not-null`: SET NOT NULL that scans the table under ACCESS EXCLUSIVE."""

from __future__ import annotations

from collections.abc import Iterator

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.match import alter_cmds
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.parse import Statement


class RULE(Rule):
    """
    What it does:
        Flags `ALTER COLUMN ... SET NOT NULL` (Alembic `op.alter_column(..., nullable=False)`) on an
        existing column, unless a validated `CHECK (col IS NOT NULL)` on that column is known (from
        `--schema`, the live database, or an earlier VALIDATE) and the server is PostgreSQL 12+.
        `DROP NOT NULL` is never flagged.

    Why is this bad?:
        PostgreSQL scans the whole table to prove there is no NULL while holding an ACCESS EXCLUSIVE lock.

    Example:
        ```sql
        ALTER TABLE users ALTER COLUMN email SET NOT NULL;
        ```

    Use instead:
        Expand: `CHECK (email IS NOT NULL) NOT VALID`. Migrate: backfill, then VALIDATE (no blocking lock).
        Contract: SET NOT NULL (PG 12+ skips the scan thanks to the CHECK), drop the CHECK.
        ```python
        op.create_check_constraint("users_email_not_null", "users", "email IS NOT NULL",
                                   postgresql_not_valid=True)
        ```
    """

    id = "set-not-null"
    kinds = frozenset({"AlterTableStmt"})
    summary = "SET NOT NULL without a validated CHECK"
    why = "SET NOT NULL scans every row to prove there is no NULL while ACCESS EXCLUSIVE blocks the table."
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int, c int)",
            "ALTER TABLE t ALTER COLUMN c SET NOT NULL",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=False,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        for table, cmd in alter_cmds(stmt):
            if cmd.get("subtype") != "AT_SetNotNull":
                continue
            column = str(cmd.get("name", ""))
            if not ctx.existing(table) or (table, column) in ctx.state.new_columns:
                continue
            if ctx.pg_version >= 12 and ctx.schema.has_not_null_check(table, column):
                continue
            check = f"{table.split('.')[-1]}_{column}_not_null"
            if ctx.alembic:
                fix = [
                    f'Expand: `op.create_check_constraint({s(check)}, {s(table)}, "{column} IS NOT NULL", '
                    "postgresql_not_valid=True)`.",
                    f'Migrate: backfill the NULLs, then `op.execute("ALTER TABLE {q(table)} VALIDATE '
                    f'CONSTRAINT {check}")`.',
                    f"Contract: `op.alter_column({s(table)}, {s(column)}, nullable=False)` (no scan on PG 12+), "
                    f"then `op.drop_constraint({s(check)}, {s(table)})`.",
                ]
            else:
                fix = [
                    f"Expand: `ALTER TABLE {q(table)} ADD CONSTRAINT {check} CHECK ({q(column)} IS NOT NULL) "
                    "NOT VALID;`",
                    f"Migrate: backfill the NULLs, then `ALTER TABLE {q(table)} VALIDATE CONSTRAINT {check};`",
                    f"Contract: `ALTER TABLE {q(table)} ALTER COLUMN {q(column)} SET NOT NULL; ALTER TABLE "
                    f"{q(table)} DROP CONSTRAINT {check};`",
                ]
            note = "" if ctx.pg_version >= 12 else f" (PostgreSQL {ctx.pg_version} always scans)"
            yield Hit(
                f"Setting {q(table)}.{q(column)} NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock{note}",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " for the whole scan",
            )
