"""`ddl-in-migrate`: schema changes in a migrate revision, which is for data only."""

from __future__ import annotations

from expandcontract.lint.context import LintContext
from expandcontract.lint.match import alter_cmds, is_ddl
from expandcontract.lint.rule import PHASE, Hit, Rule
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        In a migrate revision (or a .sql file linted with `--phase migrate`), flags every statement that
        changes the schema (CREATE, ALTER, DROP, COMMENT, GRANT, ...). Data statements are fine, and so is
        `VALIDATE CONSTRAINT`: validating a NOT VALID constraint after the backfill is a migrate step.

    Why is this bad?:
        Migrate runs once every pod dual-writes; it is gated on the rollout and may run long, in batches.
        Schema changes there skip the expand gate (old code may not cope with them) and hold locks inside a
        long data phase.

    Example:
        ```python
        ec_phase = "migrate"
        def upgrade():
            op.add_column("users", sa.Column("nickname", sa.Text()))
        ```

    Use instead:
        Put the schema change in the change's expand (additive) or contract (destructive) revision; keep
        migrate to `op.backfill(...)`.
    """

    id = "ddl-in-migrate"
    kind = PHASE
    summary = "schema change in a migrate revision"
    why = "Migrate is data only: schema changes belong in expand (additive) or contract (destructive)."

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        if ctx.phase != "migrate" or not is_ddl(stmt):
            return
        cmds = alter_cmds(stmt)
        if cmds and all(cmd.get("subtype") == "AT_ValidateConstraint" for _, cmd in cmds):
            return  # VALIDATE after the backfill is the migrate step of the NOT VALID pattern
        what = stmt.text.split(None, 3)
        head = " ".join(what[:2]).upper() if what else stmt.kind
        yield Hit(
            f"{head} is a schema change in the migrate phase, which is for data only",
            [
                "Move additive changes to the expand revision of this change, destructive ones to its "
                "contract revision.",
                "Keep only data changes (`op.backfill(...)`) here."
                if ctx.alembic
                else "Keep only batched data changes in this migration.",
            ],
        )
