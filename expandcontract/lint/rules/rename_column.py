"""`rename-column`: a column renamed under running code (also inside an executed DO block)."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.match import renamed_column
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `ALTER TABLE ... RENAME COLUMN` (Alembic `op.alter_column(..., new_column_name=...)`) on an
        existing table, including inside a `DO` block, which executes during the migration.

    Why is this bad?:
        The old release keeps using the old name and the new release the new one; there is no moment
        when both work. It takes a brief ACCESS EXCLUSIVE lock on the table.

    Example:
        ```sql
        ALTER TABLE users RENAME COLUMN name TO full_name;
        ```

    Use instead:
        Expand: add the new column and a trigger that keeps both in sync. Migrate: batched backfill, move
        reads and writes to the new column. Contract: drop the old column and the trigger.
        ```python
        op.add_column("users", sa.Column("full_name", sa.Text(), nullable=True))
        ```
    """

    id = "rename-column"
    kinds = frozenset({"RenameStmt"})
    summary = "RENAME COLUMN on an existing table"
    why = "The running release queries the old name and the new release the new one: one of them always fails."
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int, c int)",
            "ALTER TABLE t RENAME COLUMN c TO d",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=False,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        if ctx.destructive_allowed or ctx.phase in ("expand", "migrate"):
            return
        found = renamed_column(stmt)
        if found is None or not ctx.existing(found[0]):
            return
        table, old, new = found
        if ctx.alembic:
            fix = [
                f"Expand: `op.add_column({s(table)}, sa.Column({s(new)}, <type of {old}>, nullable=True))` "
                f"plus a trigger that copies {old} to {new} on INSERT and UPDATE; the app writes both.",
                f"Migrate: `op.backfill({s(table)}, values={{{s(new)}: {s(old)}}})` in batches; move reads to {new}.",
                f"Contract (a later release): `op.drop_column({s(table)}, {s(old)})` and drop the trigger.",
            ]
        else:
            fix = [
                f"Expand: `ALTER TABLE {q(table)} ADD COLUMN {q(new)} <type of {old}>;` plus a trigger "
                f"copying {q(old)} into {q(new)}; the app writes both.",
                f"Migrate: `UPDATE {q(table)} SET {q(new)} = {q(old)} WHERE id BETWEEN :lo AND :hi;` in "
                f"batches; move reads to {q(new)}.",
                f"Contract (a later release): `ALTER TABLE {q(table)} DROP COLUMN {q(old)};` and drop the trigger.",
            ]
        where = " (inside a DO block, which executes)" if stmt.in_do else ""
        yield Hit(
            f"Renaming column {q(old)} of {q(table)} to {q(new)}{where} breaks the release still running: "
            f"it queries {q(old)}",
            fix,
            table,
            locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " (brief)",
        )
