"""`add-foreign-key-validated`: ADD FOREIGN KEY without NOT VALID (scans and locks both tables)."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.match import added_columns, added_constraints, column_constraints
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.nodes import is_null_constant, table_name
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `ADD [CONSTRAINT ...] FOREIGN KEY` without `NOT VALID` (Alembic `op.create_foreign_key`)
        when the referencing table existed before this migration. `ADD COLUMN ... REFERENCES` with no
        default is not flagged: the new column is all NULL, so there is nothing to scan.

    Why is this bad?:
        Validating the key scans the whole referencing table while holding SHARE ROW EXCLUSIVE locks on
        both tables: writes to both wait for the whole scan.

    Example:
        ```sql
        ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
            FOREIGN KEY (customer_id) REFERENCES customers (id);
        ```

    Use instead:
        Expand: add it NOT VALID (new rows are checked at once). Migrate: fix orphans. Contract (a separate
        migration): `VALIDATE CONSTRAINT`, which takes only SHARE UPDATE EXCLUSIVE.
        ```python
        op.create_foreign_key("orders_customer_fk", "orders", "customers", ["customer_id"], ["id"],
                              postgresql_not_valid=True)
        ```
    """

    id = "add-foreign-key-validated"
    kinds = frozenset({"AlterTableStmt.AT_AddColumn", "AlterTableStmt.AT_AddConstraint"})
    summary = "ADD FOREIGN KEY without NOT VALID"
    why = (
        "Validating a new foreign key scans the whole referencing table while SHARE ROW EXCLUSIVE locks "
        "on both tables block their writes."
    )
    lock_checks = (
        LockCheck(
            "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE t (id int, p_id int)",
            "ALTER TABLE t ADD CONSTRAINT t_p_fk FOREIGN KEY (p_id) REFERENCES p (id)",
            "t",
            locks.SHARE_ROW_EXCLUSIVE,
            rewrite=False,
        ),
        LockCheck(
            "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE t (id int, p_id int)",
            "ALTER TABLE t ADD CONSTRAINT t_p_fk FOREIGN KEY (p_id) REFERENCES p (id)",
            "p",
            locks.SHARE_ROW_EXCLUSIVE,
        ),
        LockCheck(  # Alembic's add_column(ForeignKey): ADD COLUMN, then ADD FOREIGN KEY, which scans t
            "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE t (id int); INSERT INTO t VALUES (1)",
            "ALTER TABLE t ADD COLUMN p_id int; ALTER TABLE t ADD FOREIGN KEY (p_id) REFERENCES p (id)",
            "t",
            None,
            scan=True,
        ),
        LockCheck(  # ... while blocking writes to the referenced table
            "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE t (id int); INSERT INTO t VALUES (1)",
            "ALTER TABLE t ADD COLUMN p_id int; ALTER TABLE t ADD FOREIGN KEY (p_id) REFERENCES p (id)",
            "p",
            locks.SHARE_ROW_EXCLUSIVE,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        for table, con in added_constraints(stmt):
            if con.get("contype") != "CONSTR_FOREIGN" or con.get("skip_validation") or not ctx.existing(table):
                continue
            yield self._hit(ctx, table, con)
        for table, col in added_columns(stmt):
            cons = column_constraints(col)
            fk = [c for c in cons if c.get("contype") == "CONSTR_FOREIGN"]
            default = any(
                c.get("contype") == "CONSTR_DEFAULT" and not is_null_constant(c.get("raw_expr")) for c in cons
            )
            if fk and default and ctx.existing(table):
                yield self._hit(ctx, table, fk[0], column=str(col.get("colname", "")))

    def _hit(self, ctx: LintContext, table: str, con: dict[str, object], column: str | None = None) -> Hit:
        ref = table_name(con.get("pktable"))  # type: ignore[arg-type]
        cols = (
            [column]
            if column
            else [
                a.get("String", {}).get("sval", "")
                for a in con.get("fk_attrs", ()) or ()  # type: ignore[attr-defined]
            ]
        )
        refcols = [a.get("String", {}).get("sval", "") for a in con.get("pk_attrs", ()) or ()]  # type: ignore[attr-defined]
        name = str(con.get("conname") or f"{table.split('.')[-1]}_{'_'.join(cols)}_fkey")
        if ctx.alembic:
            fix = [
                f"Expand: `op.create_foreign_key({s(name)}, {s(table)}, {s(ref)}, {[*cols]!r}, {[*refcols]!r}, "
                "postgresql_not_valid=True)`: new rows are checked at once, no scan.".replace("'", '"'),
                "Migrate: fix rows that reference missing keys.",
                f'Contract (a separate revision): `op.execute("ALTER TABLE {q(table)} VALIDATE CONSTRAINT '
                f'{q(name)}")`.',
            ]
        else:
            fix = [
                f"Expand: `ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} FOREIGN KEY ({', '.join(map(q, cols))}) "
                f"REFERENCES {q(ref)} ({', '.join(map(q, refcols))}) NOT VALID;`",
                "Migrate: fix rows that reference missing keys.",
                f"Contract (a separate migration): `ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(name)};`",
            ]
        return Hit(
            f"Adding foreign key {q(name)} on {q(table)} without NOT VALID scans {q(table)} while blocking "
            f"writes to {q(table)} and {q(ref)}",
            fix,
            table,
            locks.describe(locks.SHARE_ROW_EXCLUSIVE, f"{q(table)} and {q(ref)}") + " for the whole scan",
        )
