"""`drop-table`: a table dropped while deployed code may still use it."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.match import dropped_tables
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `DROP TABLE` (Alembic `op.drop_table`) of a table that existed before this migration.

    Why is this bad?:
        The release still running during the deploy (and any rollback target) queries the table; every
        one of those queries fails once it is gone. `DROP TABLE` takes an ACCESS EXCLUSIVE lock on the
        table, and with CASCADE on the tables whose foreign keys reference it.

    Example:
        ```sql
        DROP TABLE legacy_sessions;
        ```

    Use instead:
        Expand: remove every use of the table from the app, deploy. Contract, in a later release:
        ```python
        op.drop_table("legacy_sessions")
        ```
    """

    id = "drop-table"
    kinds = frozenset({"DropStmt"})
    summary = "DROP TABLE of an existing table"
    why = "The release still running during the deploy queries this table; those queries fail once it is gone."
    lock_checks = (LockCheck("CREATE TABLE t (id int)", "DROP TABLE t", "t", locks.ACCESS_EXCLUSIVE),)

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        if ctx.destructive_allowed or ctx.phase in ("expand", "migrate"):
            return
        for table in dropped_tables(stmt):
            if not ctx.existing(table):
                continue
            if ctx.alembic:
                fix = [
                    f"Expand: remove every use of {table} from the app (models, queries, relationships). Deploy.",
                    f"Contract (a later release): `op.drop_table({s(table)})`.",
                ]
            else:
                fix = [
                    f"Expand: remove every use of {q(table)} from the app. Deploy.",
                    f"Contract (a later release): `DROP TABLE {q(table)};`",
                ]
            yield Hit(
                f"Dropping table {q(table)} breaks the release still running: it queries {q(table)}",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, q(table)),
            )
