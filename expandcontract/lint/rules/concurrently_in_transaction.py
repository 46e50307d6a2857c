"""`concurrently-in-transaction`: a CONCURRENTLY statement that PostgreSQL will refuse."""

from __future__ import annotations

from expandcontract.lint.context import LintContext
from expandcontract.lint.match import alter_cmds, has_option
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql.nodes import table_name
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`, `REINDEX ... CONCURRENTLY` and
        `DETACH PARTITION ... CONCURRENTLY` inside a transaction: the runner's per-file transaction
        (Alembic's transactional DDL, `--transaction per-file`) or an explicit BEGIN.

    Why is this bad?:
        PostgreSQL raises "cannot run inside a transaction block": the migration fails in the middle of
        the deploy, after the statements before it may already have run.

    Example:
        ```python
        def upgrade():
            op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)
        ```

    Use instead:
        ```python
        def upgrade():
            with op.get_context().autocommit_block():
                op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)
        ```
    """

    id = "concurrently-in-transaction"
    kinds = frozenset({"IndexStmt", "DropStmt", "ReindexStmt", "AlterTableStmt.AT_DetachPartition"})
    summary = "CONCURRENTLY inside a transaction"
    why = "PostgreSQL refuses CONCURRENTLY inside a transaction block: the migration fails mid-deploy."
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int)", "CREATE INDEX CONCURRENTLY i ON t (id)", "t", None, fails_in_transaction=True
        ),
        LockCheck(
            "CREATE TABLE t (id int); CREATE INDEX i ON t (id)",
            "DROP INDEX CONCURRENTLY i",
            "t",
            None,
            fails_in_transaction=True,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        if not ctx.state.in_transaction:
            return
        what = None
        table = None
        n = stmt.node
        if stmt.kind == "IndexStmt" and n.get("concurrent"):
            what, table = "CREATE INDEX CONCURRENTLY", table_name(n.get("relation"))
        elif stmt.kind == "DropStmt" and n.get("concurrent"):
            what = "DROP INDEX CONCURRENTLY"
        elif stmt.kind == "ReindexStmt" and has_option(n.get("params"), "concurrently"):
            what = "REINDEX CONCURRENTLY"
        else:
            for tbl, cmd in alter_cmds(stmt):
                if cmd.get("subtype") == "AT_DetachPartition" and cmd.get("def", {}).get("PartitionCmd", {}).get(
                    "concurrent"
                ):
                    what, table = "DETACH PARTITION CONCURRENTLY", tbl
        if what is None:
            return
        if stmt.kind == "ReindexStmt" and str(n.get("kind", "")).endswith("SYSTEM"):
            yield Hit(
                "REINDEX SYSTEM CONCURRENTLY is refused by PostgreSQL (system catalogs cannot be reindexed "
                "concurrently): the migration fails",
                ["Remove it from the migration; reindex system catalogs in a maintenance window."],
            )
            return
        if ctx.alembic:
            fix = [
                "Wrap the op in `with op.get_context().autocommit_block():` so it runs outside the "
                "migration's transaction.",
                "Keep other DDL out of that block; a failure after it leaves the revision half-applied.",
            ]
        else:
            fix = [
                "Put this statement in its own migration run without a transaction (`--transaction none`, "
                "no BEGIN/COMMIT around it).",
            ]
        yield Hit(
            f"{what} cannot run inside a transaction: PostgreSQL rejects it and the migration fails",
            fix,
            table,
            None,
        )
