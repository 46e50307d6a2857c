"""`rename-table`: a table renamed under running code."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.match import renamed_table
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `ALTER TABLE ... RENAME TO` (Alembic `op.rename_table`) of a table that existed before this
        migration. `ALTER INDEX ... RENAME` and `RENAME CONSTRAINT` are not flagged.

    Why is this bad?:
        The running release queries the old name; from the rename on, all its queries fail. It takes a
        brief ACCESS EXCLUSIVE lock.

    Example:
        ```sql
        ALTER TABLE customers RENAME TO clients;
        ```

    Use instead:
        Expand: rename and create a view under the old name (a simple view is updatable), deploy code
        that uses the new name. Contract: drop the view.
        ```python
        op.rename_table("customers", "clients")
        op.execute("CREATE VIEW customers AS SELECT * FROM clients")
        ```
    """

    id = "rename-table"
    kinds = frozenset({"RenameStmt"})
    summary = "ALTER TABLE ... RENAME TO on an existing table"
    why = "The release still running queries the old table name; every one of its queries fails after the rename."
    lock_checks = (
        LockCheck("CREATE TABLE t (id int)", "ALTER TABLE t RENAME TO u", "t", locks.ACCESS_EXCLUSIVE, rewrite=False),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        if ctx.destructive_allowed or ctx.phase in ("expand", "migrate"):
            return
        found = renamed_table(stmt)
        if found is None or not ctx.existing(found[0]):
            return
        old, new = found
        if ctx.alembic:
            fix = [
                f"Expand: `op.rename_table({s(old)}, {s(new)})` then "
                f'`op.execute("CREATE VIEW {q(old)} AS SELECT * FROM {q(new)}")` so the running release '
                "keeps working through the view.",
                f"Migrate: deploy code that uses {new}.",
                f'Contract (a later release): `op.execute("DROP VIEW {q(old)}")`.',
            ]
        else:
            fix = [
                f"Expand: `ALTER TABLE {q(old)} RENAME TO {q(new)}; CREATE VIEW {q(old)} AS SELECT * FROM "
                f"{q(new)};` in one transaction.",
                f"Migrate: deploy code that uses {q(new)}.",
                f"Contract (a later release): `DROP VIEW {q(old)};`",
            ]
        yield Hit(
            f"Renaming table {q(old)} to {q(new)} breaks the release still running: it queries {q(old)}",
            fix,
            old,
            locks.describe(locks.ACCESS_EXCLUSIVE, q(old)) + " (brief)",
        )
