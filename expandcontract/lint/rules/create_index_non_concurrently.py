"""`create-index-non-concurrently`: CREATE INDEX that blocks writes for the whole build."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.lint.sqltext import concurrently
from expandcontract.sql import locks
from expandcontract.sql.nodes import table_name
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `CREATE [UNIQUE] INDEX` without `CONCURRENTLY` (Alembic `op.create_index` without
        `postgresql_concurrently=True`) on a table that existed before this migration.

    Why is this bad?:
        A plain index build holds a SHARE lock on the table for the whole build: every INSERT, UPDATE and
        DELETE waits, for minutes on a large table.

    Example:
        ```sql
        CREATE INDEX orders_customer_id_idx ON orders (customer_id);
        ```

    Use instead:
        Build it concurrently, outside the migration's transaction:
        ```python
        with op.get_context().autocommit_block():
            op.create_index("orders_customer_id_idx", "orders", ["customer_id"],
                            postgresql_concurrently=True, if_not_exists=True)
        ```
        If a concurrent build fails it leaves an INVALID index: drop it and retry.
    """

    id = "create-index-non-concurrently"
    kinds = frozenset({"IndexStmt"})
    summary = "CREATE INDEX without CONCURRENTLY on an existing table"
    why = (
        "A non-concurrent index build holds a SHARE lock for the whole build: every write to the table "
        "waits until it finishes."
    )
    lock_checks = (LockCheck("CREATE TABLE t (id int)", "CREATE INDEX i ON t (id)", "t", locks.SHARE, rewrite=False),)

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        if stmt.kind != "IndexStmt" or stmt.node.get("concurrent"):
            return
        table = table_name(stmt.node.get("relation"))
        if not ctx.existing(table):
            return
        name = str(stmt.node.get("idxname") or f"{table.split('.')[-1]}_idx")
        unique = stmt.node.get("unique", False)
        cols = [e.get("IndexElem", {}).get("name") or "<expr>" for e in stmt.node.get("indexParams", ())]
        if ctx.alembic:
            args = ", ".join(s(c) for c in cols)
            uniq = ", unique=True" if unique else ""
            fix = [
                "Run it outside the migration's transaction, concurrently: `with op.get_context()."
                f"autocommit_block(): op.create_index({s(name)}, {s(table)}, [{args}]{uniq}, "
                "postgresql_concurrently=True, if_not_exists=True)`.",
                f"If the build fails, `op.drop_index({s(name)}, postgresql_concurrently=True, if_exists=True)` "
                "in an autocommit block and retry.",
            ]
        else:
            text = stmt.text.rstrip().rstrip(";")
            concurrent = concurrently(text)
            fix = [
                f"Outside a transaction (no BEGIN; `--transaction none` or its own migration): `{concurrent};`",
                f"If it fails: `DROP INDEX CONCURRENTLY IF EXISTS {q(name)};` and retry.",
            ]
        yield Hit(
            f"Creating index {q(name)} on {q(table)} without CONCURRENTLY blocks writes to {q(table)} for the "
            "whole build",
            fix,
            table,
            locks.describe(locks.SHARE, q(table)) + " for the whole build",
        )
