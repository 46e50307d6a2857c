"""`add-serial-column`: ADD COLUMN serial / identity, which rewrites the table."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, lit, q, s
from expandcontract.lint.match import added_columns, column_constraints
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.nodes import type_spec
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator

SERIAL = {"serial", "bigserial", "smallserial", "serial4", "serial8", "serial2"}


class RULE(Rule):
    """
    What it does:
        Flags `ADD COLUMN` of type `serial` / `bigserial` or `GENERATED ... AS IDENTITY` on an existing
        table (Alembic `sa.Identity()` or `autoincrement` on a new column).

    Why is this bad?:
        Every existing row needs its own sequence value, so PostgreSQL rewrites the table under an
        ACCESS EXCLUSIVE lock.

    Example:
        ```sql
        ALTER TABLE events ADD COLUMN seq bigserial;
        ```

    Use instead:
        Expand: add a nullable bigint, create a sequence and attach it as the default. Migrate: batched
        backfill from the sequence. Contract: NOT NULL via a validated CHECK, key via a concurrent index.
        ```python
        op.add_column("events", sa.Column("seq", sa.BigInteger(), nullable=True))
        ```
    """

    id = "add-serial-column"
    kinds = frozenset({"AlterTableStmt.AT_AddColumn"})
    summary = "ADD COLUMN serial/bigserial/identity"
    why = (
        "Each existing row gets its own sequence value: PostgreSQL rewrites the table under an ACCESS "
        "EXCLUSIVE lock, blocking reads and writes until it finishes."
    )
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int)", "ALTER TABLE t ADD COLUMN c bigserial", "t", locks.ACCESS_EXCLUSIVE, rewrite=True
        ),
        LockCheck(
            "CREATE TABLE t (id int)",
            "ALTER TABLE t ADD COLUMN c bigint GENERATED ALWAYS AS IDENTITY",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=True,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        for table, col in added_columns(stmt):
            if not ctx.existing(table):
                continue
            typ = type_spec(col.get("typeName", {}))
            identity = any(c.get("contype") == "CONSTR_IDENTITY" for c in column_constraints(col))
            if typ.name not in SERIAL and not identity:
                continue
            name = str(col.get("colname", ""))
            seq = f"{table.split('.')[-1]}_{name}_seq"
            if ctx.alembic:
                fix = [
                    f"Expand: `op.add_column({s(table)}, sa.Column({s(name)}, sa.BigInteger(), nullable=True))`, "
                    f'`op.execute("CREATE SEQUENCE {seq} OWNED BY {q(table)}.{q(name)}")`, '
                    f"`op.alter_column({s(table)}, {s(name)}, server_default=sa.text(\"nextval('{seq}')\"))`.",
                    f"Migrate: `op.backfill({s(table)}, values={{{s(name)}: {lit(f'nextval({seq!r})')}}})` in batches.",
                    f"Contract: NOT NULL via a validated CHECK; a unique key via "
                    f"`op.create_index(..., [{s(name)}], unique=True, postgresql_concurrently=True)`.",
                ]
            else:
                fix = [
                    f"Expand: `ALTER TABLE {q(table)} ADD COLUMN {q(name)} bigint; CREATE SEQUENCE {seq} OWNED "
                    f"BY {q(table)}.{q(name)}; ALTER TABLE {q(table)} ALTER COLUMN {q(name)} SET DEFAULT "
                    f"nextval('{seq}');`",
                    f"Migrate: `UPDATE {q(table)} SET {q(name)} = nextval('{seq}') WHERE id BETWEEN :lo AND :hi "
                    f"AND {q(name)} IS NULL;` in batches.",
                    "Contract: NOT NULL via a validated CHECK; key via `CREATE UNIQUE INDEX CONCURRENTLY`.",
                ]
            kind = "an identity" if identity else f"a {typ.name}"
            yield Hit(
                f"Adding {kind} column {q(name)} to {q(table)} rewrites the whole table",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " for the whole rewrite",
            )
