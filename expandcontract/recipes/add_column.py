"""`--add-column TABLE.COLUMN SQL_TYPE [--default SQL_EXPR] [--not-null]`: a new column the old release
does not know about.

A constant (or stable, like now()) default fills the existing rows without a rewrite (PostgreSQL 11+),
so the expand adds the column with it, NOT NULL included, and the other phases have nothing to do. A
volatile default (gen_random_uuid(), clock_timestamp()) would rewrite the table: the expand adds the
column bare and sets the default for new rows, the migrate fills the existing rows in batches, and the
contract adds NOT NULL through a validated check. NOT NULL without a default is refused: existing rows
and the old release's INSERTs would have no value.
"""

from __future__ import annotations

from expandcontract.recipes import code, steps
from expandcontract.recipes.base import Probe, Recipe, refuse_special_tables
from expandcontract.recipes.catalog import Catalog, Refused, split_column
from expandcontract.recipes.code import ChangePlan, Phase
from expandcontract.recipes.sqltext import MAX_IDENT, ident, qualified
from expandcontract.sql.nodes import volatility
from expandcontract.sql.parse import parse

_SERIAL = {"serial", "bigserial", "smallserial", "serial4", "serial8", "serial2"}


def default_volatility(expr: str) -> str:
    """'constant', 'stable' or 'volatile', as the linter judges an ADD COLUMN default."""
    parsed = parse(f"SELECT {expr}")
    if parsed.error or not parsed.statements:
        return "volatile"
    return volatility(parsed.statements[0].node["targetList"][0]["ResTarget"]["val"])


class AddColumn(Recipe):
    flag = "--add-column"

    def __init__(self, target: str, sql_type: str, default: str | None = None, not_null: bool = False) -> None:
        self.table_name, self.column_name = split_column(target)
        self.sql_type = sql_type.strip()
        self.default = default
        self.not_null = not_null

    def touches(self) -> set[tuple[str, str]]:
        return {(self.table_name, self.column_name)}

    @property
    def volatile(self) -> bool:
        return self.default is not None and default_volatility(self.default) == "volatile"

    def check(self, catalog: Catalog) -> list[Probe]:
        table = catalog.table(self.table_name)
        name = self.column_name
        if name in table.columns:
            raise Refused(f"table {table.display} already has a column {name!r}")
        if len(name.encode()) > MAX_IDENT:
            raise Refused(f"{name!r} is longer than PostgreSQL's {MAX_IDENT} bytes")
        if self.sql_type.lower() in _SERIAL:
            raise Refused(
                f"{self.sql_type} would fill every existing row from a new sequence in one rewrite; add "
                f"{table.display}.{name} as bigint with --default \"nextval('SEQUENCE')\" after creating the sequence"
            )
        if self.not_null and self.default is None:
            raise Refused(
                f"--not-null needs --default: the existing rows of {table.display} and the old release's INSERTs "
                f"have no value for {name}. Give --default SQL_EXPR, or add it nullable and later use "
                f"--set-not-null {table.display}.{name} --fill SQL_EXPR"
            )
        if self.volatile or self.not_null:
            refuse_special_tables(table, f"add {table.display}.{name}")
        default = f" DEFAULT {self.default}" if self.default is not None else ""
        return [
            Probe(
                f"CREATE TEMP TABLE ec_probe (v {self.sql_type}{default}) ON COMMIT DROP",
                f"{self.sql_type}{default} is not a column PostgreSQL can make",
            )
        ]

    def plan(self, catalog: Catalog, change: str) -> ChangePlan:
        table = catalog.table(self.table_name)
        t, c, ref = qualified(table.display), ident(self.column_name), f"{table.display}.{self.column_name}"
        drop = code.sql(f"ALTER TABLE {t} DROP COLUMN {c}")
        if not self.volatile:
            nn = " NOT NULL" if self.not_null else ""
            default = f" DEFAULT {self.default}" if self.default is not None else ""
            filled = (
                f"; PostgreSQL fills the existing rows with {self.default} without rewriting the table"
                if default
                else ""
            )
            expand = Phase(
                summary=f"Adds {ref} ({self.sql_type}{nn}{default}){filled}. The old release does not know the column.",
                next_step=f"Before the next phase: deploy the release that uses {self.column_name}.",
                upgrade=[code.sql(f"ALTER TABLE {t} ADD COLUMN {c} {self.sql_type}{nn}{default}")],
                downgrade=[drop],
            )
            return ChangePlan(
                expand,
                _nothing("migrate", "the expand added the column complete"),
                _nothing("contract", "the expand added the column complete"),
            )
        expand = Phase(
            summary=(
                f"Adds {ref} ({self.sql_type}) without a default, so PostgreSQL does not rewrite the table, then sets "
                f"DEFAULT {self.default} for the rows inserted from now on."
            ),
            next_step=f"Before the next phase: deploy the release that uses {self.column_name}.",
            upgrade=[
                code.sql(f"ALTER TABLE {t} ADD COLUMN {c} {self.sql_type}"),
                code.sql(f"ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {self.default}"),
            ],
            downgrade=[drop],
        )
        migrate = Phase(
            summary=f"Fills {self.column_name} with {self.default} for the rows from before the expand, in batches.",
            next_step=(
                f"Before the contract: every release that runs or may be rolled back to writes {self.column_name} "
                "(or leaves it to the default)."
                if self.not_null
                else ""
            ),
            upgrade=[code.backfill(table.display, {self.column_name: self.default or ""}, f"{c} IS NULL")],
            reason="the filled values stay; the expand's downgrade drops the column",
        )
        if not self.not_null:
            return ChangePlan(expand, migrate, _nothing("contract", "the column stays nullable"))
        contract = Phase(
            summary=(
                f"Makes {ref} NOT NULL without a blocking scan: a NOT VALID check, VALIDATE in its own transaction "
                "(it blocks no writes), SET NOT NULL proved by it, the check dropped."
            ),
            next_step="",
            upgrade=steps.not_null(table.display, table.name, self.column_name),
            downgrade=[code.sql(f"ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL")],
        )
        return ChangePlan(expand, migrate, contract)


def _nothing(phase: str, why: str) -> Phase:
    return Phase(summary=f"Nothing to do in the {phase}: {why}.", next_step="")
