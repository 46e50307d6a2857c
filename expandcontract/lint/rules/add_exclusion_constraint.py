"""`add-exclusion-constraint`: ADD EXCLUDE, which has no non-blocking form."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q
from expandcontract.lint.match import added_constraints
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `ADD [CONSTRAINT ...] EXCLUDE USING ...` on an existing table.

    Why is this bad?:
        The exclusion index is built under an ACCESS EXCLUSIVE lock, and there is no NOT VALID or USING
        INDEX form to split the work.

    Example:
        ```sql
        ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);
        ```

    Use instead:
        Create a shadow table with the constraint, keep it in sync with triggers, backfill it in batches
        and swap the tables; or schedule a maintenance window.
        ```python
        op.create_table("bookings_new", ...)  # with the EXCLUDE constraint
        ```
    """

    id = "add-exclusion-constraint"
    kinds = frozenset({"AlterTableStmt.AT_AddConstraint"})
    summary = "ADD EXCLUDE on an existing table"
    why = "The exclusion index is built under ACCESS EXCLUSIVE and no NOT VALID / USING INDEX form exists."
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int)",
            "ALTER TABLE t ADD CONSTRAINT t_ex EXCLUDE USING btree (id WITH =)",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=False,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        for table, con in added_constraints(stmt):
            if con.get("contype") != "CONSTR_EXCLUSION" or not ctx.existing(table):
                continue
            name = str(con.get("conname") or "exclusion constraint")
            shadow = f"{table.split('.')[-1]}_new"
            fix = [
                f"Expand: create {q(shadow)} with the constraint and triggers that copy every write on "
                f"{q(table)} into it.",
                f"Migrate: backfill {q(shadow)} from {q(table)} in batches.",
                "Contract: swap the tables (rename both in one short transaction), or run this in a "
                "maintenance window.",
            ]
            yield Hit(
                f"Adding exclusion constraint {q(name)} on {q(table)} builds its index under an ACCESS EXCLUSIVE lock",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " for the whole index build",
            )
