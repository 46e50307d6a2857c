"""`add-column-volatile-default`: ADD COLUMN with a default that forces a table rewrite."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, lit, q, s
from expandcontract.lint.match import added_columns, column_constraints
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.lint.sqltext import default_expr
from expandcontract.sql import locks
from expandcontract.sql.nodes import is_null_constant, type_spec, volatility
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `ADD COLUMN ... DEFAULT <volatile>` (`gen_random_uuid()`, `clock_timestamp()`, `random()`,
        any function PostgreSQL does not know to be stable) on an existing table, and on PostgreSQL
        before 11 any non-NULL default. Constant and STABLE defaults (`0`, `'new'`, `now()`) are
        metadata-only on PG 11+ and are not flagged.

    Why is this bad?:
        A volatile default must be evaluated for every existing row, so PostgreSQL rewrites the whole
        table under an ACCESS EXCLUSIVE lock: no reads or writes until it finishes.

    Example:
        ```sql
        ALTER TABLE users ADD COLUMN api_key uuid DEFAULT gen_random_uuid();
        ```

    Use instead:
        Expand: add the column nullable, then `SET DEFAULT` for new rows. Migrate: batched backfill of the
        existing rows. Contract: NOT NULL via a validated CHECK.
        ```python
        op.add_column("users", sa.Column("api_key", sa.Uuid(), nullable=True))
        op.alter_column("users", "api_key", server_default=sa.text("gen_random_uuid()"))
        ```
    """

    id = "add-column-volatile-default"
    kinds = frozenset({"AlterTableStmt.AT_AddColumn"})
    summary = "ADD COLUMN with a volatile default (any default before PG 11)"
    why = (
        "A volatile default is computed per existing row: PostgreSQL rewrites the table under an ACCESS "
        "EXCLUSIVE lock, blocking every read and write until it finishes."
    )
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int)",
            "ALTER TABLE t ADD COLUMN c float8 DEFAULT random()",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=True,
        ),
        LockCheck(
            "CREATE TABLE t (id int)",
            "ALTER TABLE t ADD COLUMN c int DEFAULT 0",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=False,
            min_version=11,
        ),
        LockCheck(
            "CREATE TABLE t (id int)",
            "ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now()",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=False,
            min_version=11,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        for table, col in added_columns(stmt):
            if not ctx.existing(table):
                continue
            for con in column_constraints(col):
                if con.get("contype") != "CONSTR_DEFAULT" or is_null_constant(con.get("raw_expr")):
                    continue
                vol = volatility(con.get("raw_expr"))
                if vol != "volatile" and ctx.pg_version >= 11:
                    continue
                name = str(col.get("colname", ""))
                typ = type_spec(col.get("typeName", {}))
                expr = _default_text(stmt.text)
                reason = "a volatile default" if vol == "volatile" else f"a default on PostgreSQL {ctx.pg_version}"
                if ctx.alembic:
                    fix = [
                        f"Expand: `op.add_column({s(table)}, sa.Column({s(name)}, <{typ}>, nullable=True))`, "
                        f"then `op.alter_column({s(table)}, {s(name)}, server_default=sa.text({expr!r}))` "
                        "for new rows.",
                        f"Migrate: `op.backfill({s(table)}, values={{{s(name)}: {lit(expr)}}}, "
                        f"where={lit(name + ' IS NULL')})` in batches.",
                        f"Contract: NOT NULL through `CHECK ({name} IS NOT NULL) NOT VALID`, VALIDATE, then "
                        f"`op.alter_column({s(table)}, {s(name)}, nullable=False)`.",
                    ]
                else:
                    fix = [
                        f"Expand: `ALTER TABLE {q(table)} ADD COLUMN {q(name)} {typ}; ALTER TABLE {q(table)} "
                        f"ALTER COLUMN {q(name)} SET DEFAULT {expr};`",
                        f"Migrate: `UPDATE {q(table)} SET {q(name)} = {expr} WHERE id BETWEEN :lo AND :hi AND "
                        f"{q(name)} IS NULL;` in batches.",
                        f"Contract: `ALTER TABLE {q(table)} ADD CONSTRAINT {name}_not_null CHECK ({q(name)} IS "
                        "NOT NULL) NOT VALID;` then VALIDATE it in a later migration, then SET NOT NULL.",
                    ]
                yield Hit(
                    f"Adding column {q(name)} to {q(table)} with {reason} rewrites the whole table",
                    fix,
                    table,
                    locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " for the whole rewrite",
                )


def _default_text(sql: str) -> str:
    found = default_expr(sql)
    return found.strip().rstrip(",") if found is not None else "<default>"
