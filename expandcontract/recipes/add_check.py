"""`--add-check TABLE CONSTRAINT_NAME SQL_EXPR`: a check constraint on a table both releases write.

Expand: nothing (PostgreSQL enforces even a NOT VALID check on every new row version, so an UPDATE of any
column of a row that violates it would fail while the old release runs). Migrate: nothing. Contract: a
read-only check that fails, changing nothing, if a row violates it; ADD CONSTRAINT ... NOT VALID; then
VALIDATE in its own transaction, which blocks no writes.
"""

from __future__ import annotations

from expandcontract.recipes import code, steps
from expandcontract.recipes.base import Probe, Recipe
from expandcontract.recipes.catalog import Catalog, Refused
from expandcontract.recipes.code import ChangePlan, Phase
from expandcontract.recipes.sqltext import MAX_IDENT, ident, qualified, referenced_columns, short_name


class AddCheck(Recipe):
    flag = "--add-check"

    def __init__(self, table: str, name: str, expression: str) -> None:
        self.table_name = table
        self.name = name
        self.expression = expression.strip()

    def touches(self) -> set[tuple[str, str]]:
        return set()

    def check(self, catalog: Catalog) -> list[Probe]:
        table = catalog.table(self.table_name)
        if not self.name or len(self.name.encode()) > MAX_IDENT:
            raise Refused(f"{self.name!r} is not a valid constraint name (1 to {MAX_IDENT} bytes)")
        if (table.display, self.name) in catalog.constraint_names:
            raise Refused(f"{table.display} already has a constraint named {self.name}")
        unknown = referenced_columns(self.expression) - set(table.columns)
        if unknown:
            raise Refused(f"{self.expression!r} uses {', '.join(sorted(unknown))}, which {table.display} does not have")
        return [
            Probe(
                f"ALTER TABLE {qualified(table.display)} ADD CONSTRAINT ec_probe CHECK ({self.expression}) NOT VALID",
                f"CHECK ({self.expression}) is not a check PostgreSQL accepts on {table.display}",
            )
        ]

    def plan(self, catalog: Catalog, change: str) -> ChangePlan:
        table = catalog.table(self.table_name)
        t, name = qualified(table.display), ident(self.name)
        expand = Phase(
            summary=(
                f"Nothing changes in the schema yet: PostgreSQL enforces even a NOT VALID check on every UPDATE of a "
                f"row that violates it, so {self.name} waits until only code that keeps it runs."
            ),
            next_step=(
                f"Before the next phase: deploy the release that never writes a {table.display} row failing "
                f"{self.expression}."
            ),
        )
        constants, check = steps.rows_must_pass(
            short_name("check", table.name, self.name).upper(),
            f"SELECT FROM {t} WHERE NOT ({self.expression})",
            f"some rows of {table.display} fail CHECK ({self.expression})",
            "fix those rows in this migrate revision (op.backfill), then run it again",
        )
        migrate = Phase(
            summary=f"Nothing to do: rows failing {self.expression} must be fixed before the contract.",
            next_step="",
        )
        contract = Phase(
            summary=(
                f"Checks that no row of {table.display} fails {self.expression} (a read-only scan that fails the "
                f"contract, changing nothing, if one does), adds {self.name} NOT VALID (a brief lock, no scan), then "
                "validates it in its own transaction."
            ),
            next_step="",
            upgrade=[check, *steps.add_validated(table.display, name, f"CHECK ({self.expression})")],
            downgrade=[code.sql(f"ALTER TABLE {t} DROP CONSTRAINT {name}")],
            constants=constants,
        )
        return ChangePlan(expand, migrate, contract)
