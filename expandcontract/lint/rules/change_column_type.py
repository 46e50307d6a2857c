"""`change-column-type`: a column type change that rewrites the table under ACCESS EXCLUSIVE."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.match import type_changes
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.nodes import type_change_rewrites
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `ALTER COLUMN ... TYPE` (Alembic `op.alter_column(..., type_=...)`) that is not binary
        coercible or narrows a length/precision. The prior type comes from the op's `existing_type`, the
        `--schema` file, the live database or earlier revisions; when it is unknown the change is flagged.
        Not flagged: varchar(n) -> varchar(m >= n), varchar -> text, numeric(p,s) -> numeric(p' >= p, s).

    Why is this bad?:
        PostgreSQL rewrites the whole table and rebuilds every index on it while holding an ACCESS
        EXCLUSIVE lock: no reads or writes for the duration, minutes on a large table. The running release
        may also write values the new type rejects.

    Example:
        ```sql
        ALTER TABLE orders ALTER COLUMN total TYPE numeric(12, 2);  -- was integer
        ```

    Use instead:
        Expand: add a new column of the new type plus a sync trigger. Migrate: batched backfill, switch
        reads and writes. Contract: drop the old column, rename the new one.
        ```python
        op.add_column("orders", sa.Column("total_new", sa.Numeric(12, 2), nullable=True))
        ```
    """

    id = "change-column-type"
    kinds = frozenset({"AlterTableStmt.AT_AlterColumnType"})
    summary = "ALTER COLUMN TYPE that rewrites the table"
    why = (
        "A type change that is not binary coercible rewrites the table and rebuilds its indexes under an "
        "ACCESS EXCLUSIVE lock: the table is unreadable and unwritable until it finishes."
    )
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int, c int)",
            "ALTER TABLE t ALTER COLUMN c TYPE bigint",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=True,
        ),
        LockCheck(
            "CREATE TABLE t (id int, c varchar(10))",
            "ALTER TABLE t ALTER COLUMN c TYPE varchar(20)",
            "t",
            None,
            rewrite=False,
        ),
        LockCheck(
            "CREATE TABLE t (id int, c varchar(10))", "ALTER TABLE t ALTER COLUMN c TYPE text", "t", None, rewrite=False
        ),
        LockCheck("CREATE TABLE t (id int, c int)", "ALTER TABLE t ALTER COLUMN c TYPE int", "t", None, rewrite=False),
        LockCheck(  # a column added earlier in the same migration is rewritten with its table
            "CREATE TABLE t (id int); INSERT INTO t VALUES (1)",
            "ALTER TABLE t ADD COLUMN c int; ALTER TABLE t ALTER COLUMN c TYPE bigint",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=True,
        ),
        LockCheck(
            "CREATE TABLE t (id int, c numeric(10, 2))",
            "ALTER TABLE t ALTER COLUMN c TYPE numeric(12, 2)",
            "t",
            None,
            rewrite=False,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        for change in type_changes(stmt):
            table, column = change.table, change.column
            if not ctx.existing(table):
                continue  # a column added earlier in this migration is still rewritten with its table
            old = ctx.column_type(table, column)
            if old is not None and not change.using and not type_change_rewrites(old, change.new):
                continue
            was = f" (was {old})" if old is not None else " (prior type unknown: pass --schema)"
            tmp = f"{column}_new"
            if ctx.alembic:
                fix = [
                    f"Expand: `op.add_column({s(table)}, sa.Column({s(tmp)}, <{change.new}>, nullable=True))` "
                    f"plus a trigger that copies {column} into {tmp} on INSERT and UPDATE.",
                    f"Migrate: `op.backfill({s(table)}, values={{{s(tmp)}: {s(column)}}})` in batches; move reads "
                    f"and writes to {tmp}.",
                    f"Contract: `op.drop_column({s(table)}, {s(column)})`, then "
                    f"`op.alter_column({s(table)}, {s(tmp)}, new_column_name={s(column)})`, drop the trigger.",
                ]
            else:
                fix = [
                    f"Expand: `ALTER TABLE {q(table)} ADD COLUMN {q(tmp)} {change.new};` plus a trigger "
                    f"copying {q(column)} into {q(tmp)}.",
                    f"Migrate: `UPDATE {q(table)} SET {q(tmp)} = {q(column)} WHERE id BETWEEN :lo AND :hi;` "
                    "in batches; switch reads and writes.",
                    f"Contract: `ALTER TABLE {q(table)} DROP COLUMN {q(column)}; ALTER TABLE {q(table)} "
                    f"RENAME COLUMN {q(tmp)} TO {q(column)};` and drop the trigger.",
                ]
            yield Hit(
                f"Changing the type of {q(table)}.{q(column)} to {change.new}{was} rewrites {q(table)} and "
                "rebuilds its indexes",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " for the whole rewrite",
            )
