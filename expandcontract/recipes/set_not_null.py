"""`--set-not-null TABLE.COLUMN [--fill SQL_EXPR]`: make an existing column NOT NULL.

Expand: nothing in the schema (the new release must write the column). Migrate: the existing NULLs are
filled with `--fill` in batches; without `--fill` the contract first checks, read-only, that none is
left, and fails changing nothing if one is. Contract: a `CHECK (col IS NOT NULL) NOT VALID`, VALIDATE in
its own transaction, SET NOT NULL (PostgreSQL 12+ proves it from the check: no scan under the ACCESS
EXCLUSIVE lock), the check dropped.
The NOT VALID check comes only then: PostgreSQL enforces it on every UPDATE of a row that violates it.
"""

from __future__ import annotations

from expandcontract.recipes import code, steps
from expandcontract.recipes.base import Probe, Recipe, refuse_special_tables
from expandcontract.recipes.catalog import Catalog, Refused, split_column
from expandcontract.recipes.code import ChangePlan, Phase, Step
from expandcontract.recipes.sqltext import ident, qualified, short_name


class SetNotNull(Recipe):
    flag = "--set-not-null"

    def __init__(self, target: str, fill: str | None = None, *, set_default: str | None = None) -> None:
        self.table_name, self.column_name = split_column(target)
        self.fill = fill
        self.set_default = set_default  # --autogenerate: the model's server_default, set first

    def touches(self) -> set[tuple[str, str]]:
        return {(self.table_name, self.column_name)}

    def check(self, catalog: Catalog) -> list[Probe]:
        table = catalog.table(self.table_name)
        col = table.column(self.column_name)
        if col.not_null:
            raise Refused(f"{table.display}.{col.name} is already NOT NULL")
        refuse_special_tables(table, f"set {table.display}.{col.name} NOT NULL")
        t = qualified(table.display)
        probes = []
        if self.fill is not None:
            probes.append(
                Probe(
                    f"CREATE TEMP TABLE ec_probe (v {col.type}) ON COMMIT DROP; "
                    f"INSERT INTO ec_probe SELECT {self.fill} FROM {t} WHERE false",
                    f"--fill {self.fill!r} does not give a {col.type}",
                )
            )
        if self.set_default is not None:
            probes.append(
                Probe(
                    f"CREATE TEMP TABLE ec_probe_default (v {col.type} DEFAULT {self.set_default}) ON COMMIT DROP",
                    f"the default {self.set_default} does not fit {col.type}",
                )
            )
        return probes

    def plan(self, catalog: Catalog, change: str) -> ChangePlan:
        table = catalog.table(self.table_name)
        col = table.column(self.column_name)
        t, c, ref = qualified(table.display), ident(col.name), f"{table.display}.{col.name}"
        writes = f"deploy the release that writes a value into {col.name} on every INSERT and UPDATE"
        if self.set_default is not None:
            restore = f"SET DEFAULT {col.default}" if col.default is not None else "DROP DEFAULT"
            expand = Phase(
                summary=(
                    f"Sets DEFAULT {self.set_default} on {ref}, so that INSERTs that leave it out (the old release's "
                    "among them) get a value from now on."
                ),
                next_step=f"Before the next phase: {writes}.",
                upgrade=[code.sql(f"ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {self.set_default}")],
                downgrade=[code.sql(f"ALTER TABLE {t} ALTER COLUMN {c} {restore}")],
            )
        else:
            expand = Phase(
                summary=f"Nothing changes in the schema yet: {ref} stays nullable while the old release runs.",
                next_step=f"Before the next phase: {writes}.",
            )
        migrate: Phase
        first: list[Step] = []
        constants: dict[str, str] = {}
        if self.fill is not None:
            migrate = Phase(
                summary=(
                    f"Fills the NULLs of {ref} with {self.fill}, in batches (op.backfill: throttled, resumable). "
                    "Only the new release writes the table now, and it writes the column."
                ),
                next_step="",
                upgrade=[code.backfill(table.display, {col.name: self.fill}, f"{c} IS NULL")],
                reason="the filled values stay",
            )
        else:
            constants, step = steps.rows_must_pass(
                short_name("no_nulls", table.name, col.name).upper(),
                f"SELECT FROM {t} WHERE {c} IS NULL",
                f"{ref} still has NULLs: fill them before the contract sets NOT NULL",
                f"fill them in this migrate revision (op.backfill), or write the change with --set-not-null {ref} "
                "--fill SQL",
            )
            first = [step]
            migrate = Phase(
                summary=f"Nothing to do: without --fill, the NULLs of {col.name} must be filled before the contract.",
                next_step="",
            )
        contract = Phase(
            summary=(
                (
                    "Checks that no NULL is left (a read-only scan that fails the contract, changing nothing, if one "
                    "is), then makes "
                    if first
                    else "Makes "
                )
                + f"{ref} NOT NULL without a blocking scan: a NOT VALID check, VALIDATE in its own transaction "
                "(it blocks no writes), SET NOT NULL proved by it, the check dropped."
            ),
            next_step="",
            upgrade=[*first, *steps.not_null(table.display, table.name, col.name)],
            downgrade=[code.sql(f"ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL")],
            constants=constants,
        )
        return ChangePlan(expand, migrate, contract)
