"""`reindex-non-concurrently`: REINDEX without CONCURRENTLY."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q
from expandcontract.lint.match import has_option
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.nodes import table_name
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `REINDEX INDEX|TABLE|SCHEMA|DATABASE` without `CONCURRENTLY`.

    Why is this bad?:
        REINDEX holds a SHARE lock on the table (writes wait) and an ACCESS EXCLUSIVE lock on each index
        being rebuilt (queries that would use it wait) for the whole rebuild.

    Example:
        ```sql
        REINDEX INDEX orders_customer_id_idx;
        ```

    Use instead:
        On PostgreSQL 12+, outside a transaction:
        ```python
        with op.get_context().autocommit_block():
            op.execute("REINDEX INDEX CONCURRENTLY orders_customer_id_idx")
        ```
    """

    id = "reindex-non-concurrently"
    kinds = frozenset({"ReindexStmt"})
    summary = "REINDEX without CONCURRENTLY"
    why = "REINDEX blocks writes to the table and every query that uses the index for the whole rebuild."
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int); CREATE INDEX i ON t (id)", "REINDEX TABLE t", "t", locks.SHARE, rewrite=False
        ),
        LockCheck("CREATE TABLE t (id int); CREATE INDEX i ON t (id)", "REINDEX INDEX i", "t", locks.SHARE),
        LockCheck("CREATE TABLE t (id int); CREATE INDEX i ON t (id)", "REINDEX INDEX i", "i", locks.ACCESS_EXCLUSIVE),
        LockCheck(  # so no fix text may suggest it
            "CREATE TABLE t (id int)",
            "REINDEX SYSTEM CONCURRENTLY",
            "t",
            None,
            in_transaction=False,
            fails="cannot reindex system catalogs concurrently",
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        n = stmt.node
        if stmt.kind != "ReindexStmt" or has_option(n.get("params"), "concurrently"):
            return
        kind = str(n.get("kind", "REINDEX_OBJECT_INDEX")).removeprefix("REINDEX_OBJECT_")
        target = table_name(n.get("relation")) if n.get("relation") else str(n.get("name") or "")
        if kind == "TABLE" and not ctx.existing(target):
            return
        if kind == "INDEX" and target in ctx.state.new_indexes:
            return
        table = target if kind == "TABLE" else ctx.state.new_indexes.get(target)
        if kind == "SYSTEM":  # PostgreSQL refuses to reindex system catalogs concurrently
            fix = [
                "REINDEX SYSTEM cannot run CONCURRENTLY: remove it from the migration and run it in a maintenance "
                "window (it rebuilds the system catalogs' indexes under their locks)."
            ]
        elif ctx.pg_version >= 12:
            sql = f"REINDEX {kind} CONCURRENTLY {q(target)}"
            fix = [
                f'Outside the transaction: `with op.get_context().autocommit_block(): op.execute("{sql}")`.'
                if ctx.alembic
                else f"Outside a transaction: `{sql};`"
            ]
        else:
            fix = [
                "PostgreSQL before 12 has no REINDEX CONCURRENTLY: build a new index with CREATE INDEX "
                "CONCURRENTLY, drop the old one concurrently, rename the new one."
            ]
        yield Hit(
            f"REINDEX {kind} {q(target)} without CONCURRENTLY blocks writes for the whole rebuild",
            fix,
            table,
            locks.describe(locks.SHARE, q(table) if table else "the table")
            + "; ACCESS EXCLUSIVE on each index being rebuilt",
        )
