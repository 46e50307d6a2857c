"""`set-not-null`: SET NOT NULL that scans the table under ACCESS EXCLUSIVE."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.match import alter_cmds
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `ALTER COLUMN ... SET NOT NULL` (Alembic `op.alter_column(..., nullable=False)`) on a
        column of an existing table (one added earlier in the same migration too: the table's rows are
        still scanned), unless a validated `CHECK (col IS NOT NULL)` on that column is known (from
        `--schema`, the live database, or an earlier VALIDATE) and the server is PostgreSQL 12+, or the
        column is already NOT NULL (`existing_nullable=False`, `--schema`). `DROP NOT NULL` is never
        flagged.

    Why is this bad?:
        PostgreSQL scans the whole table to prove there is no NULL while holding an ACCESS EXCLUSIVE lock.

    Example:
        ```sql
        ALTER TABLE users ALTER COLUMN email SET NOT NULL;
        ```

    Use instead:
        Expand: the app writes non-NULL values. Migrate: backfill the NULLs. Contract: add
        `CHECK (email IS NOT NULL) NOT VALID` and VALIDATE it in separate transactions (an autocommit
        block), then SET NOT NULL (PG 12+ skips the scan thanks to the CHECK), then drop the CHECK. Never
        the NOT VALID check before the backfill: PostgreSQL enforces it on every UPDATE of a row that
        violates it.
        ```python
        # contract
        with op.get_context().autocommit_block():
            op.execute("ALTER TABLE users ADD CONSTRAINT users_email_not_null "
                       "CHECK (email IS NOT NULL) NOT VALID")
            op.execute("ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null")
        op.alter_column("users", "email", nullable=False)
        op.drop_constraint("users_email_not_null", "users")
        ```
    """

    id = "set-not-null"
    kinds = frozenset({"AlterTableStmt.AT_SetNotNull"})
    summary = "SET NOT NULL without a validated CHECK"
    why = "SET NOT NULL scans every row to prove there is no NULL while ACCESS EXCLUSIVE blocks the table."
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int, c int)",
            "ALTER TABLE t ALTER COLUMN c SET NOT NULL",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=False,
            scan=True,
        ),
        LockCheck(  # a column added earlier in the same migration: the table's rows are still scanned
            "CREATE TABLE t (id int); INSERT INTO t VALUES (1)",
            "ALTER TABLE t ADD COLUMN c int DEFAULT 0; ALTER TABLE t ALTER COLUMN c SET NOT NULL",
            "t",
            locks.ACCESS_EXCLUSIVE,
            scan=True,
        ),
        LockCheck(  # already NOT NULL (existing_nullable=False, --schema): no scan
            "CREATE TABLE t (id int, c int NOT NULL)",
            "ALTER TABLE t ALTER COLUMN c SET NOT NULL",
            "t",
            None,
            scan=False,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        for table, cmd in alter_cmds(stmt):
            if cmd.get("subtype") != "AT_SetNotNull":
                continue
            column = str(cmd.get("name", ""))
            if not ctx.existing(table) or ctx.not_null_known(table, column):
                continue  # a new table, or already NOT NULL (existing_nullable=False, --schema): no scan
            if ctx.pg_version >= 12 and ctx.schema.has_not_null_check(table, column):
                continue
            check = f"{table.split('.')[-1]}_{column}_not_null"
            add = f"ALTER TABLE {q(table)} ADD CONSTRAINT {check} CHECK ({q(column)} IS NOT NULL) NOT VALID"
            validate = f"ALTER TABLE {q(table)} VALIDATE CONSTRAINT {check}"
            if ctx.alembic:
                fix = [
                    f"Expand: the app writes {column} on every INSERT and UPDATE. Migrate: `op.backfill("
                    f'{s(table)}, values={{{s(column)}: ...}}, where="{column} IS NULL")`.',
                    f'Contract: `with op.get_context().autocommit_block(): op.execute("{add}"); '
                    f'op.execute("{validate}")` (separate transactions; never before the backfill).',
                    f"Then `op.alter_column({s(table)}, {s(column)}, nullable=False)` (no scan on PG 12+) and "
                    f"`op.drop_constraint({s(check)}, {s(table)})`.",
                ]
            else:
                fix = [
                    f"Backfill the NULLs of {q(column)} in batches first (a migration of its own).",
                    f"Then, outside a transaction: `{add};` and `{validate};` (never before the backfill).",
                    f"Then `ALTER TABLE {q(table)} ALTER COLUMN {q(column)} SET NOT NULL; ALTER TABLE "
                    f"{q(table)} DROP CONSTRAINT {check};`",
                ]
            note = "" if ctx.pg_version >= 12 else f" (PostgreSQL {ctx.pg_version} always scans)"
            yield Hit(
                f"Setting {q(table)}.{q(column)} NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock{note}",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " for the whole scan",
            )
