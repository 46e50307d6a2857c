"""`add-required-column`: ADD COLUMN NOT NULL without a default."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.match import added_columns, column_constraints
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.nodes import is_null_constant, type_spec
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator

_SERIAL = {"serial", "bigserial", "smallserial", "serial4", "serial8", "serial2"}


class RULE(Rule):
    """
    What it does:
        Flags `ADD COLUMN ... NOT NULL` without a DEFAULT (Alembic `sa.Column(..., nullable=False)` without
        `server_default`) on an existing table.

    Why is this bad?:
        On a table with rows the statement fails outright. On an empty one it succeeds, and then every
        INSERT of the running release, which does not know the column, fails with a NOT NULL violation.

    Example:
        ```sql
        ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;
        ```

    Use instead:
        Expand: add it nullable (or with a constant default). Migrate: backfill, app writes it. Contract:
        `CHECK (tenant_id IS NOT NULL) NOT VALID`, VALIDATE, SET NOT NULL.
        ```python
        op.add_column("users", sa.Column("tenant_id", sa.BigInteger(), nullable=True))
        ```
    """

    id = "add-required-column"
    kinds = frozenset({"AlterTableStmt.AT_AddColumn"})
    summary = "ADD COLUMN NOT NULL without DEFAULT on an existing table"
    why = (
        "Existing rows have no value, so the ALTER fails on a non-empty table; and INSERTs of the running "
        "release, which does not set the column, fail with a NOT NULL violation."
    )
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int)",
            "ALTER TABLE t ADD COLUMN c int NOT NULL",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=False,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        for table, col in added_columns(stmt):
            if not ctx.existing(table):
                continue
            cons = column_constraints(col)
            kinds = {c.get("contype") for c in cons}
            if "CONSTR_NOTNULL" not in kinds and "CONSTR_PRIMARY" not in kinds:
                continue
            has_default = any(
                c.get("contype") == "CONSTR_DEFAULT" and not is_null_constant(c.get("raw_expr")) for c in cons
            )
            typ = type_spec(col.get("typeName", {}))
            if has_default or kinds & {"CONSTR_IDENTITY", "CONSTR_GENERATED"} or typ.name in _SERIAL:
                continue
            name = str(col.get("colname", ""))
            if ctx.alembic:
                fix = [
                    f"Expand: `op.add_column({s(table)}, sa.Column({s(name)}, <{typ}>, nullable=True))`; the "
                    "new release writes it on every INSERT.",
                    f"Migrate: `op.backfill({s(table)}, values={{{s(name)}: <value>}})` for existing rows.",
                    f'Contract: `op.execute("ALTER TABLE {q(table)} ADD CONSTRAINT {name}_not_null CHECK '
                    f'({q(name)} IS NOT NULL) NOT VALID")`, VALIDATE it in a separate revision, then '
                    f"`op.alter_column({s(table)}, {s(name)}, nullable=False)`.",
                ]
            else:
                fix = [
                    f"Expand: `ALTER TABLE {q(table)} ADD COLUMN {q(name)} {typ};`",
                    f"Migrate: `UPDATE {q(table)} SET {q(name)} = <value> WHERE id BETWEEN :lo AND :hi;` in "
                    "batches; the app writes it.",
                    f"Contract: `ALTER TABLE {q(table)} ADD CONSTRAINT {name}_not_null CHECK ({q(name)} IS NOT "
                    f"NULL) NOT VALID;`, later `ALTER TABLE {q(table)} VALIDATE CONSTRAINT {name}_not_null;`, "
                    f"then `ALTER TABLE {q(table)} ALTER COLUMN {q(name)} SET NOT NULL;`",
                ]
            yield Hit(
                f"Adding required column {q(name)} to {q(table)} without a default fails on existing rows and "
                "breaks INSERTs of the running release",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, q(table)),
            )
