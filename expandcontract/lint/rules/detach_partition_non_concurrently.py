"""`detach-partition-non-concurrently`: DETACH PARTITION without CONCURRENTLY."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q
from expandcontract.lint.match import alter_cmds
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
        Flags `ALTER TABLE ... DETACH PARTITION` without `CONCURRENTLY`.

    Why is this bad?:
        It takes an ACCESS EXCLUSIVE lock on the parent table (and the partition): every query on the
        partitioned table waits.

    Example:
        ```sql
        ALTER TABLE events DETACH PARTITION events_2023;
        ```

    Use instead:
        PostgreSQL 14+, outside a transaction:
        ```python
        with op.get_context().autocommit_block():
            op.execute("ALTER TABLE events DETACH PARTITION events_2023 CONCURRENTLY")
        ```
    """

    id = "detach-partition-non-concurrently"
    kinds = frozenset({"AlterTableStmt.AT_DetachPartition"})
    summary = "DETACH PARTITION without CONCURRENTLY"
    why = "A plain DETACH PARTITION locks the whole partitioned table against reads and writes."
    lock_checks = (
        LockCheck(
            "CREATE TABLE p (id int) PARTITION BY RANGE (id); "
            "CREATE TABLE c PARTITION OF p FOR VALUES FROM (0) TO (10)",
            "ALTER TABLE p DETACH PARTITION c",
            "p",
            locks.ACCESS_EXCLUSIVE,
            rewrite=False,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        for table, cmd in alter_cmds(stmt):
            if cmd.get("subtype") != "AT_DetachPartition":
                continue
            part = cmd.get("def", {}).get("PartitionCmd", {})
            if part.get("concurrent") or not ctx.existing(table):
                continue
            child = table_name(part.get("name"))
            sql = f"ALTER TABLE {q(table)} DETACH PARTITION {q(child)} CONCURRENTLY"
            if ctx.pg_version < 14:
                fix = [
                    f"Upgrade to PostgreSQL 14+ and use `{sql}` outside a transaction, or detach in a "
                    "maintenance window."
                ]
            elif ctx.alembic:
                fix = [f'`with op.get_context().autocommit_block(): op.execute("{sql}")`.']
            else:
                fix = [f"Outside a transaction: `{sql};`"]
            yield Hit(
                f"Detaching {q(child)} from {q(table)} without CONCURRENTLY blocks every query on {q(table)}",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, f"{q(table)} and {q(child)}"),
            )
