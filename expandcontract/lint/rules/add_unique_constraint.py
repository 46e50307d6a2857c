"""`add-unique-constraint`: ADD UNIQUE that builds its index under ACCESS EXCLUSIVE."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.match import added_columns, added_constraints, column_constraints
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


def _cols(con: dict[str, object]) -> list[str]:
    return [k.get("String", {}).get("sval", "") for k in con.get("keys", ()) or ()]  # type: ignore[attr-defined]


class RULE(Rule):
    """
    What it does:
        Flags `ADD [CONSTRAINT ...] UNIQUE (...)` without `USING INDEX` (Alembic
        `op.create_unique_constraint`) on an existing table.

    Why is this bad?:
        The unique index is built while an ACCESS EXCLUSIVE lock blocks every read and write.

    Example:
        ```sql
        ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);
        ```

    Use instead:
        ```python
        # expand
        with op.get_context().autocommit_block():
            op.create_index("users_email_key", "users", ["email"], unique=True,
                            postgresql_concurrently=True)
        # contract
        op.execute("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key")
        ```
    """

    id = "add-unique-constraint"
    kinds = frozenset({"AlterTableStmt.AT_AddColumn", "AlterTableStmt.AT_AddConstraint"})
    summary = "ADD UNIQUE without USING INDEX"
    why = "ADD UNIQUE builds its index while an ACCESS EXCLUSIVE lock blocks every read and write."
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int)",
            "ALTER TABLE t ADD CONSTRAINT t_id_key UNIQUE (id)",
            "t",
            locks.ACCESS_EXCLUSIVE,
            rewrite=False,
        ),
    )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        found = [(t, c) for t, c in added_constraints(stmt)]
        found += [
            (t, {**c, "keys": [{"String": {"sval": col.get("colname", "")}}]})
            for t, col in added_columns(stmt)
            for c in column_constraints(col)
        ]
        for table, con in found:
            if con.get("contype") != "CONSTR_UNIQUE" or con.get("indexname") or not ctx.existing(table):
                continue
            cols = _cols(con)
            name = str(con.get("conname") or f"{table.split('.')[-1]}_{'_'.join(cols)}_key")
            if ctx.alembic:
                fix = [
                    "Expand: `with op.get_context().autocommit_block(): op.create_index("
                    f"{s(name)}, {s(table)}, [{', '.join(map(s, cols))}], unique=True, "
                    "postgresql_concurrently=True)`.",
                    f'Contract: `op.execute("ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} UNIQUE USING INDEX '
                    f'{q(name)}")`.',
                ]
            else:
                fix = [
                    f"Expand (no transaction): `CREATE UNIQUE INDEX CONCURRENTLY {q(name)} ON {q(table)} "
                    f"({', '.join(map(q, cols))});`",
                    f"Contract: `ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} UNIQUE USING INDEX {q(name)};`",
                ]
            yield Hit(
                f"Adding UNIQUE {q(name)} on {q(table)} builds an index under an ACCESS EXCLUSIVE lock",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " for the whole index build",
            )
