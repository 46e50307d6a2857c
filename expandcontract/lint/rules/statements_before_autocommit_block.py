"""`statements-before-autocommit-block`: a revision that runs SQL before its autocommit block."""

from __future__ import annotations

from expandcontract.lint.context import LintContext
from expandcontract.lint.rule import Hit, Rule
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Warns when an Alembic revision's `autocommit_block()` is not the first thing it does: statements
        before the block run in the revision's transaction, which the block commits on entry.

    Why is this bad?:
        Entering the block commits what ran before it, while `alembic_version` still names the previous
        revision. If the block (a CREATE INDEX CONCURRENTLY, a VALIDATE) or anything after it fails, the
        revision is half applied: a rerun repeats the committed statements and fails on them ("already
        exists"), and no plain rerun can finish it.

    Example:
        ```python
        def upgrade():
            op.add_column("orders", sa.Column("customer_ref", sa.Text()))
            with op.get_context().autocommit_block():
                op.create_index("ix_orders_customer_ref", "orders", ["customer_ref"],
                                postgresql_concurrently=True)
        ```

    Use instead:
        Put the autocommit block first, or give it a revision of its own:
        ```python
        def upgrade():  # revision 1
            op.add_column("orders", sa.Column("customer_ref", sa.Text()))

        def upgrade():  # revision 2
            with op.get_context().autocommit_block():
                op.create_index("ix_orders_customer_ref", "orders", ["customer_ref"],
                                postgresql_concurrently=True)
        ```
    """

    id = "statements-before-autocommit-block"
    kinds = frozenset({"TransactionStmt"})
    severity = "warning"
    sql_files = False
    summary = "autocommit block after other statements in the same revision"
    why = (
        "The autocommit block commits what ran before it; a failure in or after it leaves the revision half "
        "applied, and a rerun repeats the committed statements."
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        if not ctx.alembic or ctx.op_name != "autocommit_block" or stmt.node.get("kind") != "TRANS_STMT_COMMIT":
            return
        if not ctx.state.statements or ctx.state.autocommit_blocks:
            return  # first thing in the revision, or a later block (the first one was reported)
        yield Hit(
            f"This autocommit block commits the {ctx.state.statements} statement(s) before it while the revision "
            "is not recorded yet: a failure from here on leaves it half applied",
            [
                "Move the `with op.get_context().autocommit_block():` to the start of upgrade(), or",
                "give the block a revision of its own (the statements before it stay in this one).",
            ],
        )
