"""`vacuum-full-or-cluster`: VACUUM FULL and CLUSTER rewrite the table under ACCESS EXCLUSIVE."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q
from expandcontract.lint.match import option_on
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
        Flags `VACUUM FULL` and `CLUSTER` in a migration.

    Why is this bad?:
        Both rewrite the whole table under an ACCESS EXCLUSIVE lock: no reads or writes until done.

    Example:
        ```sql
        VACUUM FULL orders;
        ```

    Use instead:
        Reclaim space online with pg_repack or pg_squeeze, outside the migration:
        ```sh
        pg_repack --table=orders
        ```
    """

    id = "vacuum-full-or-cluster"
    kinds = frozenset({"VacuumStmt", "ClusterStmt"})
    summary = "VACUUM FULL or CLUSTER"
    why = "VACUUM FULL and CLUSTER rewrite the table while ACCESS EXCLUSIVE blocks every read and write."
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int); CREATE INDEX i ON t (id)",
            "CLUSTER t USING i",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=True,
        ),
        LockCheck("CREATE TABLE t (id int)", "VACUUM FULL t", "t", None, rewrite=True, in_transaction=False),
        LockCheck("CREATE TABLE t (id int)", "VACUUM (FULL FALSE) t", "t", None, rewrite=False, in_transaction=False),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        n = stmt.node
        if stmt.kind == "VacuumStmt" and n.get("is_vacuumcmd") and option_on(n.get("options"), "full"):
            tables = [table_name(r.get("VacuumRelation", {}).get("relation")) for r in n.get("rels", ())]
            what = "VACUUM FULL"
        elif stmt.kind == "ClusterStmt":
            tables = [table_name(n.get("relation"))] if n.get("relation") else []
            what = "CLUSTER"
        else:
            return
        tables = [t for t in tables if ctx.existing(t)] if tables else [""]
        for table in tables:
            target = q(table) if table else "every table it processes"
            yield Hit(
                f"{what} {target} rewrites the table under an ACCESS EXCLUSIVE lock",
                [
                    f"Remove it from the migration; run `pg_repack --table={table or '<table>'}` (or pg_squeeze) "
                    "outside it to reclaim space online."
                ],
                table or None,
                locks.describe(locks.ACCESS_EXCLUSIVE, target) + " for the whole rewrite",
            )
