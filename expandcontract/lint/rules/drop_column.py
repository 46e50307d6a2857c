"""`drop-column`: a column dropped while deployed code may still use it."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.match import dropped_columns
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `ALTER TABLE ... DROP COLUMN` (Alembic `op.drop_column`) on a table that existed before
        this migration.

    Why is this bad?:
        During a deploy the old release keeps running against the new schema. Every query of the old
        code that selects, inserts or updates the column fails the moment it is gone (SQLAlchemy models
        name every column in their INSERTs and SELECTs). The drop itself takes a brief ACCESS EXCLUSIVE
        lock on the table.

    Example:
        ```sql
        ALTER TABLE users DROP COLUMN legacy_email;
        ```

    Use instead:
        Expand: stop reading and writing the column in the app (and drop NOT NULL if it has it), deploy.
        Contract, in a later release: drop the column.
        ```python
        # contract revision of change users-drop-legacy-email
        op.drop_column("users", "legacy_email")
        ```
    """

    id = "drop-column"
    kinds = frozenset({"AlterTableStmt.AT_DropColumn"})
    summary = "DROP COLUMN on an existing table"
    why = (
        "The release still running during the deploy (and any rollback target) selects and inserts this "
        "column; its queries fail as soon as the column is gone."
    )
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int, c int)", "ALTER TABLE t DROP COLUMN c", "t", locks.ACCESS_EXCLUSIVE, rewrite=False
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        if ctx.destructive_allowed or ctx.phase in ("expand", "migrate"):
            return  # contract: the point of the tool; expand/migrate: destructive-outside-contract
        for table, column in dropped_columns(stmt):
            if not ctx.existing(table) or (table, column) in ctx.state.new_columns:
                continue  # no client knows a column added by this migration (or the upgrade it undoes)
            if ctx.alembic:
                fix = [
                    f"Expand: remove {column} from the {table} model so the app stops reading and writing "
                    f"it; if it is NOT NULL, `op.alter_column({s(table)}, {s(column)}, nullable=True)`. "
                    "Deploy.",
                    f"Contract (a later release, once no pod runs the old code): "
                    f"`op.drop_column({s(table)}, {s(column)})`.",
                ]
            else:
                fix = [
                    f"Expand: make the app stop reading and writing {q(table)}.{q(column)}; if it is NOT "
                    f"NULL: `ALTER TABLE {q(table)} ALTER COLUMN {q(column)} DROP NOT NULL;`. Deploy.",
                    f"Contract (a later release): `ALTER TABLE {q(table)} DROP COLUMN {q(column)};`",
                ]
            yield Hit(
                f"Dropping column {q(column)} from {q(table)} breaks the release still running: its queries "
                f"name {q(column)}",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " (brief)",
            )
