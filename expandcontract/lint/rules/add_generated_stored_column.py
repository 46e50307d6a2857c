"""`add-generated-stored-column`: ADD COLUMN ... GENERATED ALWAYS AS (...) STORED."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.match import added_columns, column_constraints
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.nodes import type_spec
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `ADD COLUMN ... GENERATED ALWAYS AS (...) STORED` (Alembic `sa.Computed(...)`) on an
        existing table. PostgreSQL 18 virtual generated columns are not flagged.

    Why is this bad?:
        The stored value is computed for every existing row: a full table rewrite under an ACCESS
        EXCLUSIVE lock.

    Example:
        ```sql
        ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) STORED;
        ```

    Use instead:
        Expand: a plain nullable column and a trigger that computes it. Migrate: batched backfill.
        ```python
        op.add_column("orders", sa.Column("total_cents", sa.BigInteger(), nullable=True))
        ```
    """

    id = "add-generated-stored-column"
    kinds = frozenset({"AlterTableStmt.AT_AddColumn"})
    summary = "ADD COLUMN GENERATED ... STORED"
    why = "The generated value is written into every existing row: a table rewrite under ACCESS EXCLUSIVE."
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int)",
            "ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (id * 2) STORED",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=True,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        for table, col in added_columns(stmt):
            if not ctx.existing(table):
                continue
            gen = [c for c in column_constraints(col) if c.get("contype") == "CONSTR_GENERATED"]
            # without STORED, PostgreSQL 18 makes a virtual column; earlier versions only have stored ones
            if not gen or (gen[0].get("generated_kind") == "v" and ctx.pg_version >= 18):
                continue
            name = str(col.get("colname", ""))
            typ = type_spec(col.get("typeName", {}))
            if ctx.alembic:
                fix = [
                    f"Expand: `op.add_column({s(table)}, sa.Column({s(name)}, <{typ}>, nullable=True))` plus a "
                    "BEFORE INSERT OR UPDATE trigger that computes it.",
                    f"Migrate: `op.backfill({s(table)}, values={{{s(name)}: <expression>}})` in batches.",
                ]
            else:
                fix = [
                    f"Expand: `ALTER TABLE {q(table)} ADD COLUMN {q(name)} {typ};` plus a BEFORE INSERT OR "
                    "UPDATE trigger that computes it.",
                    f"Migrate: `UPDATE {q(table)} SET {q(name)} = <expression> WHERE id BETWEEN :lo AND :hi;` "
                    "in batches.",
                ]
            yield Hit(
                f"Adding stored generated column {q(name)} to {q(table)} rewrites the whole table",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " for the whole rewrite",
            )
