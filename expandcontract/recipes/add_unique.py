"""`--add-unique TABLE.COLUMN[,COLUMN...]`: a unique constraint without locking the table for the build.

Expand: CREATE UNIQUE INDEX CONCURRENTLY (outside the transaction; writes go on during the build, and
from then on the index enforces uniqueness, so the new release can rely on it, e.g. in ON CONFLICT).
A duplicate makes the build fail; the runner drops the invalid index, and nothing else is changed.
Migrate: nothing. Contract: ADD CONSTRAINT ... UNIQUE USING INDEX, a brief lock and no scan.
"""

from __future__ import annotations

from expandcontract.recipes import code
from expandcontract.recipes.base import Probe, Recipe
from expandcontract.recipes.catalog import Catalog, Refused, Table, split_column
from expandcontract.recipes.code import ChangePlan, Phase
from expandcontract.recipes.shadow import in_schema
from expandcontract.recipes.sqltext import ident, qualified, short_name


class AddUnique(Recipe):
    flag = "--add-unique"

    def __init__(self, target: str, *, name: str | None = None) -> None:
        self.constraint_name = name  # --autogenerate: the model's name for it
        self.table_name, columns = split_column(target, "TABLE.COLUMN[,COLUMN...]")
        self.columns = tuple(c.strip() for c in columns.split(","))
        if not all(self.columns):
            raise Refused(f"{target!r}: an empty column name; write table.col1,col2")

    def touches(self) -> set[tuple[str, str]]:
        return {(self.table_name, c) for c in self.columns}

    def name(self, table: Table) -> str:
        return self.constraint_name or short_name(table.name, *self.columns, "key")

    def check(self, catalog: Catalog) -> list[Probe]:
        table = catalog.table(self.table_name)
        for c in self.columns:
            table.column(c)
        for con in table.constraints:
            if con.kind in ("u", "p") and con.columns == self.columns:
                raise Refused(f"{table.display} ({', '.join(self.columns)}) is already unique: {con.name}")
        name = self.name(table)
        if catalog.relation_exists(table.schema, name) or (table.display, name) in catalog.constraint_names:
            raise Refused(f"the name {name} is taken in {table.display}'s schema")
        cols = ", ".join(ident(c) for c in self.columns)
        return [
            Probe(
                f"CREATE UNIQUE INDEX ec_probe ON {qualified(table.display)} ({cols})",
                f"{table.display} ({', '.join(self.columns)}) cannot have a unique index",
            )
        ]

    def plan(self, catalog: Catalog, change: str) -> ChangePlan:
        table = catalog.table(self.table_name)
        t, name = qualified(table.display), self.name(table)
        cols = ", ".join(ident(c) for c in self.columns)
        index = qualified(in_schema(table.schema, name))
        what = f"{table.display} ({', '.join(self.columns)})"
        expand = Phase(
            summary=(
                f"Builds the unique index {name} on {what} concurrently: writes go on during the build, and it "
                "enforces uniqueness once built. A duplicate makes the build fail (PostgreSQL names the key) and "
                "leaves nothing behind."
            ),
            next_step=f"Before the next phase: deploy the new release; it may rely on {what} being unique.",
            upgrade=[
                code.sql(
                    f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {ident(name)} ON {t} ({cols})", autocommit=True
                )
            ],
            downgrade=[code.sql(f"DROP INDEX CONCURRENTLY IF EXISTS {index}", autocommit=True)],
        )
        migrate = Phase(summary="Nothing to do: the index already holds every row.", next_step="")
        temp = short_name(name, "old")
        contract = Phase(
            summary=f"Makes the index the constraint {name} (ADD CONSTRAINT ... USING INDEX): no scan, a brief lock.",
            next_step="",
            upgrade=[code.sql(f"ALTER TABLE {t} ADD CONSTRAINT {ident(name)} UNIQUE USING INDEX {ident(name)}")],
            downgrade=[
                code.sql(
                    f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {ident(temp)} ON {t} ({cols})",
                    autocommit=True,
                    comment="the plain index again, built before the constraint goes so uniqueness never lapses",
                ),
                code.sql(f"ALTER TABLE {t} DROP CONSTRAINT {ident(name)}"),
                code.sql(f"ALTER INDEX {qualified(in_schema(table.schema, temp))} RENAME TO {ident(name)}"),
            ],
        )
        return ChangePlan(expand, migrate, contract)
