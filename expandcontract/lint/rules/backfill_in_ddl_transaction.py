"""`backfill-in-ddl-transaction`: a data change that runs while the transaction holds a DDL lock."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.nodes import table_name
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


def dml_target(stmt: Statement) -> str | None:
    """The table an UPDATE / DELETE / INSERT ... SELECT writes (None for other statements)."""
    if stmt.kind in ("UpdateStmt", "DeleteStmt"):
        return table_name(stmt.node.get("relation"))
    if stmt.kind == "InsertStmt":
        select = stmt.node.get("selectStmt", {}).get("SelectStmt", {})
        if select and "valuesLists" not in select:
            return table_name(stmt.node.get("relation"))
    return None


class RULE(Rule):
    """
    What it does:
        Flags `UPDATE`, `DELETE` and `INSERT ... SELECT` on a table after an earlier statement in the same
        transaction took a blocking lock on it (ALTER TABLE, CREATE INDEX, ...).

    Why is this bad?:
        Locks are held until the transaction commits. The earlier DDL's lock (often ACCESS EXCLUSIVE) is
        held for the whole backfill, so the table is blocked for as long as the UPDATE runs.

    Example:
        ```sql
        ALTER TABLE users ADD COLUMN email_verified boolean;
        UPDATE users SET email_verified = false;
        ```

    Use instead:
        Commit the DDL first (expand), then backfill in batches in the migrate phase:
        ```python
        op.backfill("users", values={"email_verified": "false"})  # migrate revision
        ```
    """

    id = "backfill-in-ddl-transaction"
    kinds = frozenset({"UpdateStmt", "DeleteStmt", "InsertStmt"})
    summary = "UPDATE/DELETE/INSERT SELECT after DDL on the same table in one transaction"
    why = "The DDL's lock is held until commit, so the table stays blocked for the whole backfill."
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100)",
            "ALTER TABLE t ADD COLUMN d int; UPDATE t SET d = 1",
            "t",
            locks.ACCESS_EXCLUSIVE,
        ),
        LockCheck(
            "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100)",
            "CREATE INDEX i ON t (id); UPDATE t SET id = id + 1",
            "t",
            locks.SHARE,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        table = dml_target(stmt)
        if not table or not ctx.existing(table):
            return
        held = ctx.state.txn_locks.get(table)
        if held not in locks.BLOCKING:
            return
        verb = stmt.kind.removesuffix("Stmt").upper()
        if ctx.alembic:
            fix = [
                "Keep the DDL in the expand revision and let it commit.",
                f"Move the data change to the migrate revision as `op.backfill({s(table)}, ...)`, which runs "
                "in committed batches outside the DDL transaction.",
            ]
        else:
            fix = [
                "Commit the DDL first: end this migration after the DDL.",
                f"Run the {verb} in its own migration, in batches: `... WHERE id BETWEEN :lo AND :hi`, one "
                "commit per batch.",
            ]
        yield Hit(
            f"{verb} on {q(table)} runs in the transaction that already holds {locks.article(held)} lock on it: "
            "the lock "
            "is held for the whole backfill",
            fix,
            table,
            locks.describe(held, q(table)) + " until the backfill commits",
        )
