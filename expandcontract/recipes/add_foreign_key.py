"""`--add-foreign-key TABLE.COLUMN REF_TABLE.REF_COLUMN`: a foreign key on tables both releases write.

Expand: nothing (a foreign key is enforced from the moment it exists, NOT VALID or not: on the
referencing side's INSERTs and UPDATEs and on the referenced side's DELETEs, so it waits until only code
that keeps the reference valid runs). Migrate: nothing. Contract: first a read-only check that fails,
changing nothing, if a row references nothing (the fix: delete or repair those rows); then ADD
CONSTRAINT ... NOT VALID (a brief SHARE ROW EXCLUSIVE lock on both tables, no scan), then VALIDATE in its
own transaction, which blocks no writes.
"""

from __future__ import annotations

from expandcontract.recipes import code, steps
from expandcontract.recipes.base import Probe, Recipe
from expandcontract.recipes.catalog import Catalog, Refused, Table, split_column
from expandcontract.recipes.code import ChangePlan, Phase
from expandcontract.recipes.sqltext import ident, qualified, short_name


class AddForeignKey(Recipe):
    flag = "--add-foreign-key"

    def __init__(self, target: str, reference: str, *, name: str | None = None) -> None:
        self.table_name, self.column_name = split_column(target)
        self.ref_table_name, self.ref_column_name = split_column(reference, "REF_TABLE.REF_COLUMN")
        self.constraint_name = name  # --autogenerate: the model's name for it

    def touches(self) -> set[tuple[str, str]]:
        return {(self.table_name, self.column_name)}

    def name(self, table: Table) -> str:
        return self.constraint_name or short_name(table.name, self.column_name, "fkey")

    def check(self, catalog: Catalog) -> list[Probe]:
        table = catalog.table(self.table_name)
        col = table.column(self.column_name)
        ref = catalog.table(self.ref_table_name)
        ref.column(self.ref_column_name)
        for con in table.constraints_on(col.name):
            if con.kind == "f" and con.ref_table == ref.display and con.ref_columns == (self.ref_column_name,):
                raise Refused(f"{table.display}.{col.name} already references {ref.display} ({con.name})")
        if (table.display, self.name(table)) in catalog.constraint_names:
            raise Refused(f"{table.display} already has a constraint named {self.name(table)}")
        return [
            Probe(
                f"ALTER TABLE {qualified(table.display)} ADD CONSTRAINT ec_probe FOREIGN KEY ({ident(col.name)}) "
                f"REFERENCES {qualified(ref.display)} ({ident(self.ref_column_name)}) NOT VALID",
                f"{table.display}.{col.name} cannot reference {ref.display}.{self.ref_column_name}",
            )
        ]

    def plan(self, catalog: Catalog, change: str) -> ChangePlan:
        table = catalog.table(self.table_name)
        ref = catalog.table(self.ref_table_name)
        t, c = qualified(table.display), ident(self.column_name)
        r, rc = qualified(ref.display), ident(self.ref_column_name)
        name = self.name(table)
        what = f"{table.display}.{self.column_name} -> {ref.display}.{self.ref_column_name}"
        expand = Phase(
            summary=(
                f"Nothing changes in the schema yet: a foreign key {what} would be enforced at once (also on DELETEs "
                f"of {ref.display}), while the old release may still write rows that break it."
            ),
            next_step=(
                f"Before the next phase: deploy the release that never writes a {self.column_name} without its "
                f"{ref.display} row (nor deletes a {ref.display} row still referenced)."
            ),
        )
        constants, check = steps.rows_must_pass(
            short_name("no_orphans", table.name, self.column_name).upper(),
            f"SELECT FROM {t} x WHERE x.{c} IS NOT NULL AND NOT EXISTS (SELECT FROM {r} y WHERE y.{rc} = x.{c})",
            f"rows of {table.display} have a {self.column_name} that is not in {ref.display}.{self.ref_column_name}",
            f"delete them or set {self.column_name} to NULL in this migrate revision, then run it again",
        )
        migrate = Phase(
            summary=f"Nothing to do: a {self.column_name} without its {ref.display} row must be fixed by the contract.",
            next_step="",
        )
        contract = Phase(
            summary=(
                f"Checks that each {table.display}.{self.column_name} has its {ref.display} row (a read-only scan "
                f"that fails the contract, changing nothing, if one has not), adds the foreign key {name} ({what}) "
                "NOT VALID (a brief lock, no scan), then validates it in its own transaction, which blocks no writes."
            ),
            next_step="",
            upgrade=[
                check,
                *steps.add_validated(table.display, ident(name), f"FOREIGN KEY ({c}) REFERENCES {r} ({rc})"),
            ],
            downgrade=[code.sql(f"ALTER TABLE {t} DROP CONSTRAINT {ident(name)}")],
            constants=constants,
        )
        return ChangePlan(expand, migrate, contract)
