"""`destructive-outside-contract`: a destructive change placed in an expand or migrate revision."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.match import dropped_columns, dropped_tables, renamed_column, renamed_table, type_changes
from expandcontract.lint.rule import PHASE, Hit, Rule
from expandcontract.sql import locks
from expandcontract.sql.nodes import narrows
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


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
    kinds = frozenset({"DropStmt", "RenameStmt", "AlterTableStmt.AT_AlterColumnType", "AlterTableStmt.AT_DropColumn"})
    kind = PHASE
    summary = "drop/rename/narrowing type change in an expand or migrate revision"
    why = (
        "Expand and migrate run while the old release still serves traffic; removing or renaming what it "
        "uses breaks it. Destructive changes belong in the contract phase."
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        if ctx.phase not in ("expand", "migrate"):
            return
        what: list[tuple[str, str, str, str]] = []  # table, description, Alembic op, SQL
        for table, column in dropped_columns(stmt):
            what.append(
                (
                    table,
                    f"dropping column {q(table)}.{q(column)}",
                    f"op.drop_column({s(table)}, {s(column)})",
                    f"ALTER TABLE {q(table)} DROP COLUMN {q(column)};",
                )
            )
        for table in dropped_tables(stmt):
            what.append((table, f"dropping table {q(table)}", f"op.drop_table({s(table)})", f"DROP TABLE {q(table)};"))
        rc = renamed_column(stmt)
        if rc:
            table, old, new = rc
            what.append(
                (
                    table,
                    f"renaming column {q(table)}.{q(old)} to {q(new)}",
                    f"op.alter_column({s(table)}, {s(old)}, new_column_name={s(new)})",
                    f"ALTER TABLE {q(table)} RENAME COLUMN {q(old)} TO {q(new)};",
                )
            )
        rt = renamed_table(stmt)
        if rt:
            what.append(
                (
                    rt[0],
                    f"renaming table {q(rt[0])} to {q(rt[1])}",
                    f"op.rename_table({s(rt[0])}, {s(rt[1])})",
                    f"ALTER TABLE {q(rt[0])} RENAME TO {q(rt[1])};",
                )
            )
        for ch in type_changes(stmt):
            old_type = ctx.column_type(ch.table, ch.column)
            if (
                old_type is not None
                and narrows(old_type, ch.new)
                and (ch.table, ch.column) not in ctx.state.new_columns
            ):
                what.append(
                    (
                        ch.table,
                        f"narrowing {q(ch.table)}.{q(ch.column)} from {old_type} to {ch.new}",
                        f"op.alter_column({s(ch.table)}, {s(ch.column)}, type_=<{ch.new}>)",
                        f"ALTER TABLE {q(ch.table)} ALTER COLUMN {q(ch.column)} TYPE {ch.new};",
                    )
                )
        for table, desc, op_text, sql in what:
            if not ctx.existing(table):
                continue
            if ctx.alembic:
                slug = ctx.change or "SLUG"
                fix = [
                    f"Remove `{op_text}` from this {ctx.phase} revision.",
                    f"Put it in the contract revision of change {slug} (create it with `expandcontract new "
                    f'"{desc}" --change {slug} --phase contract` if it has none); it runs once no pod needs the '
                    "old shape.",
                ]
            else:
                fix = [
                    f"Remove `{sql}` from this {ctx.phase} migration.",
                    "Run it in the contract migration, after every pod (and rollback target) runs the new code.",
                ]
            yield Hit(
                f"{desc[0].upper()}{desc[1:]} in the {ctx.phase} phase breaks the release still running",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " (brief)",
            )
