"""`add-primary-key`: ADD PRIMARY KEY that builds its index (and checks NOT NULL) under ACCESS
EXCLUSIVE."""

from __future__ import annotations

from expandcontract.lint.context import LintContext, q, s
from expandcontract.lint.match import added_columns, added_constraints, column_constraints
from expandcontract.lint.rule import Hit, LockCheck, Rule
from expandcontract.sql import locks
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator


class RULE(Rule):
    """
    What it does:
        Flags `ADD [CONSTRAINT ...] PRIMARY KEY (...)` without `USING INDEX` (Alembic
        `op.create_primary_key`) on an existing table.

    Why is this bad?:
        It builds a unique index and, for nullable columns, scans for NULLs while an ACCESS EXCLUSIVE lock
        blocks every read and write.

    Example:
        ```sql
        ALTER TABLE events ADD PRIMARY KEY (id);
        ```

    Use instead:
        Expand: NOT NULL via a validated CHECK, unique index built concurrently. Contract:
        ```python
        op.execute("ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_pkey")
        ```
    """

    id = "add-primary-key"
    kinds = frozenset({"AlterTableStmt.AT_AddColumn", "AlterTableStmt.AT_AddConstraint"})
    summary = "ADD PRIMARY KEY without USING INDEX"
    why = "ADD PRIMARY KEY builds its index (and proves NOT NULL) while ACCESS EXCLUSIVE blocks the table."
    lock_checks = (
        LockCheck(
            "CREATE TABLE t (id int)", "ALTER TABLE t ADD PRIMARY KEY (id)", "t", locks.ACCESS_EXCLUSIVE, rewrite=False
        ),
        LockCheck(  # USING INDEX on a nullable column: no build, but a NOT NULL scan
            "CREATE TABLE t (id int); INSERT INTO t VALUES (1); CREATE UNIQUE INDEX t_id ON t (id)",
            "ALTER TABLE t ADD PRIMARY KEY USING INDEX t_id",
            "t",
            locks.ACCESS_EXCLUSIVE,
            scan=True,
        ),
    )

    def _using_index(self, ctx: LintContext, table: str, con: dict[str, object]) -> Iterator[Hit]:
        """USING INDEX skips the build, but a nullable key column is made NOT NULL by a full scan."""
        index = str(con.get("indexname"))
        nullable = [c for c in ctx.schema.index_columns.get(index, ()) if not ctx.not_null_known(table, c)]
        if not nullable:
            return
        cols = ", ".join(nullable)
        yield Hit(
            f"Adding primary key {q(index)} USING INDEX on {q(table)} scans the table to make {cols} NOT NULL "
            "under an ACCESS EXCLUSIVE lock",
            [
                f"First make {cols} NOT NULL without a scan: backfill, then a validated `CHECK ({nullable[0]} IS NOT "
                "NULL)` (ADD ... NOT VALID and VALIDATE in separate transactions) and SET NOT NULL (PG 12+).",
                f"Then `ALTER TABLE {q(table)} ADD CONSTRAINT {q(index)} PRIMARY KEY USING INDEX {q(index)};`",
            ],
            table,
            locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " for the whole scan",
        )

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        found = list(added_constraints(stmt))
        found += [
            (t, {**c, "keys": [{"String": {"sval": col.get("colname", "")}}]})
            for t, col in added_columns(stmt)
            for c in column_constraints(col)
        ]
        for table, con in found:
            if con.get("contype") != "CONSTR_PRIMARY" or not ctx.existing(table):
                continue
            if con.get("indexname"):
                yield from self._using_index(ctx, table, con)
                continue
            cols = [k.get("String", {}).get("sval", "") for k in con.get("keys", ()) or ()]
            name = str(con.get("conname") or f"{table.split('.')[-1]}_pkey")
            if ctx.alembic:
                fix = [
                    f"Expand: make {', '.join(cols)} NOT NULL through a validated CHECK (see set-not-null), "
                    "then `with op.get_context().autocommit_block(): op.create_index("
                    f"{s(name)}, {s(table)}, [{', '.join(map(s, cols))}], unique=True, "
                    "postgresql_concurrently=True)`.",
                    f'Contract: `op.execute("ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} PRIMARY KEY USING '
                    f'INDEX {q(name)}")`.',
                ]
            else:
                fix = [
                    f"Expand: NOT NULL via a validated CHECK, then (no transaction) `CREATE UNIQUE INDEX "
                    f"CONCURRENTLY {q(name)} ON {q(table)} ({', '.join(map(q, cols))});`",
                    f"Contract: `ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} PRIMARY KEY USING INDEX {q(name)};`",
                ]
            yield Hit(
                f"Adding a primary key to {q(table)} builds its index under an ACCESS EXCLUSIVE lock",
                fix,
                table,
                locks.describe(locks.ACCESS_EXCLUSIVE, q(table)) + " for the whole index build",
            )
