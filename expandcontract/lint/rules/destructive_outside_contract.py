"""`destructive-outside-contract`: a destructive change placed in an expand or migrate revision."""

from __future__ import annotations

from collections.abc import Iterator

from expandcontract.lint.context import LintContext, q
from expandcontract.lint.match import dropped_columns, dropped_tables, renamed_column, renamed_table, type_changes
from expandcontract.lint.rule import PHASE, Hit, Rule
from expandcontract.sql import locks
from expandcontract.sql.nodes import narrows
from expandcontract.sql.parse import Statement


class RULE(Rule):
    """
    What it does:
        In a phased revision (`ec_phase`) or a .sql file linted with `--phase`, flags drops and renames of
        existing columns and tables, and narrowing type changes, in the expand or migrate phase.

    Why is this bad?:
        Expand and migrate run while the old release still serves traffic and stays a rollback target.
        Removing what it uses breaks it; that belongs in the contract phase, which runs only when no pod
        runs the old code.

    Example:
        ```python
        ec_phase = "expand"
        def upgrade():
            op.drop_column("users", "legacy_email")
        ```

    Use instead:
        Move the op into the contract revision of the change:
        ```python
        ec_phase = "contract"
        def upgrade():
            op.drop_column("users", "legacy_email")
        ```
    """

    id = "destructive-outside-contract"
    kinds = frozenset({"AlterTableStmt", "DropStmt", "RenameStmt"})
    kind = PHASE
    summary = "drop/rename/narrowing type change in an expand or migrate revision"
    why = (
        "Expand and migrate run while the old release still serves traffic; removing or renaming what it "
        "uses breaks it. Destructive changes belong in the contract phase."
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        if ctx.phase not in ("expand", "migrate"):
            return
        what: list[tuple[str, str]] = []
        for table, column in dropped_columns(stmt):
            what.append((table, f"dropping column {q(table)}.{q(column)}"))
        what += [(t, f"dropping table {q(t)}") for t in dropped_tables(stmt)]
        rc = renamed_column(stmt)
        if rc:
            what.append((rc[0], f"renaming column {q(rc[0])}.{q(rc[1])} to {q(rc[2])}"))
        rt = renamed_table(stmt)
        if rt:
            what.append((rt[0], f"renaming table {q(rt[0])} to {q(rt[1])}"))
        for ch in type_changes(stmt):
            old = ctx.column_type(ch.table, ch.column)
            if old is not None and narrows(old, ch.new) and (ch.table, ch.column) not in ctx.state.new_columns:
                what.append((ch.table, f"narrowing {q(ch.table)}.{q(ch.column)} from {old} to {ch.new}"))
        for table, desc in what:
            if not ctx.existing(table):
                continue
            where = "revision" if ctx.alembic else "migration"
            fix = [
                f"Remove it from this {ctx.phase} {where}.",
                "Put it in the contract "
                + (
                    "revision of the same change (`expandcontract new ... --change SLUG --phase contract`)."
                    if ctx.alembic
                    else "migration, run after every pod runs the new code."
                ),
            ]
            yield Hit(
                f"{desc[0].upper()}{desc[1:]} in the {ctx.phase} phase breaks the release still running",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " (brief)",
            )
