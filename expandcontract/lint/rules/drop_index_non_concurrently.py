"""`drop-index-non-concurrently`: DROP INDEX that takes ACCESS EXCLUSIVE on the table."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `DROP INDEX` without `CONCURRENTLY` (Alembic `op.drop_index` without
        `postgresql_concurrently=True`), unless the index was created earlier in the same migration.

    Why is this bad?:
        `DROP INDEX` takes an ACCESS EXCLUSIVE lock on the index's table. It is brief, but it waits
        behind any long query on the table, and every later query queues behind it.

    Example:
        ```sql
        DROP INDEX orders_legacy_idx;
        ```

    Use instead:
        ```python
        with op.get_context().autocommit_block():
            op.drop_index("orders_legacy_idx", table_name="orders", postgresql_concurrently=True,
                          if_exists=True)
        ```
    """

    id = "drop-index-non-concurrently"
    kinds = frozenset({"DropStmt"})
    summary = "DROP INDEX without CONCURRENTLY"
    why = (
        "DROP INDEX takes an ACCESS EXCLUSIVE lock on the table: it waits behind long queries and every "
        "query on the table queues behind it."
    )
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int); CREATE INDEX i ON t (id)",
            "DROP INDEX i",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=False,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        n = stmt.node
        if stmt.kind != "DropStmt" or n.get("removeType") != "OBJECT_INDEX" or n.get("concurrent"):
            return
        for obj in n.get("objects", ()):
            items = obj.get("List", {}).get("items", obj) if isinstance(obj, dict) else obj
            parts = [p.get("String", {}).get("sval", "") for p in items]
            if len(parts) > 1 and parts[0] == "public":
                parts = parts[1:]
            index = ".".join(parts)
            if index in ctx.state.new_indexes:
                continue
            table = ctx.op_table or ctx.schema.indexes.get(index) or None
            on = q(table) if table else f"the table of {q(index)}"
            if ctx.alembic:
                tn = f", table_name={s(table)}" if table else ""
                fix = [
                    "Outside the migration's transaction: `with op.get_context().autocommit_block(): "
                    f"op.drop_index({s(index)}{tn}, postgresql_concurrently=True, if_exists=True)`."
                ]
            else:
                fix = [f"Outside a transaction: `DROP INDEX CONCURRENTLY IF EXISTS {q(index)};`"]
            yield Hit(
                f"Dropping index {q(index)} without CONCURRENTLY locks {on} against all reads and writes",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, on),
            )
