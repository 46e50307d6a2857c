"""`validate-constraint-same-transaction`: VALIDATE in the transaction that added the constraint."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q
from expandcontract.lint.match import alter_cmds
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `VALIDATE CONSTRAINT` in the same transaction as the `ADD ... NOT VALID` of that constraint.

    Why is this bad?:
        The ADD took an ACCESS EXCLUSIVE (CHECK) or SHARE ROW EXCLUSIVE (foreign key) lock, and a lock is
        held until the transaction ends: the validation scan then runs under it, which is exactly what
        NOT VALID was meant to avoid.

    Example:
        ```sql
        ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
        ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
        ```

    Use instead:
        Validate in a separate migration (a later revision, or after a COMMIT / `autocommit_block`).
        ```python
        op.execute("ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive")  # next revision
        ```
    """

    id = "validate-constraint-same-transaction"
    kinds = frozenset({"AlterTableStmt.AT_ValidateConstraint"})
    summary = "VALIDATE CONSTRAINT in the transaction that added it NOT VALID"
    why = "The ADD's lock is held until commit, so the validation scan runs under it and blocks the table."
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int)",
            "ALTER TABLE t ADD CONSTRAINT t_ck CHECK (id > 0) NOT VALID; ALTER TABLE t VALIDATE CONSTRAINT t_ck",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=False,
        ),
        LockCheck(  # committed alone (--transaction none, an autocommit block): only SHARE UPDATE EXCLUSIVE
            "CREATE TABLE t (id int); ALTER TABLE t ADD CONSTRAINT t_ck CHECK (id > 0) NOT VALID",
            "ALTER TABLE t VALIDATE CONSTRAINT t_ck",
            "t",
            locks.SHARE_UPDATE_EXCLUSIVE,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        for table, cmd in alter_cmds(stmt):
            if cmd.get("subtype") != "AT_ValidateConstraint":
                continue
            name = str(cmd.get("name", ""))
            if (table, name) not in ctx.state.txn_not_valid:
                continue
            held = ctx.state.txn_locks.get(table, locks.ACCESS_EXCLUSIVE)
            if ctx.alembic:
                fix = [
                    f'Move `op.execute("ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(name)}")` to a later '
                    "revision (or after the ADD inside `with op.get_context().autocommit_block():`).",
                ]
            else:
                fix = [
                    f"Commit between them: move `ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(name)};` to the "
                    "next migration.",
                ]
            yield Hit(
                f"Validating {q(name)} in the transaction that added it NOT VALID scans {q(table)} while the "
                f"ADD's {held} lock is still held",
                fix,
                table,
                locks.describe(held, q(table)) + " for the whole scan",
            )
