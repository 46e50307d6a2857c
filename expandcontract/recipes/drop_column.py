"""`--drop-column TABLE.COLUMN`: drop a column once no running release uses it.

Expand: a NOT NULL column without a default becomes nullable, so the new release (which no longer writes
it) can insert. Migrate: nothing. Contract: DROP COLUMN, which takes its indexes and constraints with it.
The values are gone after the contract: its downgrade re-creates the column (nullable, with its default,
indexes and constraints) empty, and says so (`ec_reversible = "lossy"`). A primary key column, a column
other tables' foreign keys reference, one with a sequence or identity, and one a view, policy or trigger
uses are refused.
"""

from __future__ import annotations

from expandcontract.recipes import code, steps
from expandcontract.recipes.base import Probe, Recipe, refuse_outside_users
from expandcontract.recipes.catalog import Catalog, Refused, split_column
from expandcontract.recipes.code import ChangePlan, Phase, Step
from expandcontract.recipes.sqltext import ident, index_sql, literal, qualified


class DropColumn(Recipe):
    flag = "--drop-column"

    def __init__(self, target: str) -> None:
        self.table_name, self.column_name = split_column(target)

    def touches(self) -> set[tuple[str, str]]:
        return {(self.table_name, self.column_name)}

    def check(self, catalog: Catalog) -> list[Probe]:
        table = catalog.table(self.table_name)
        col = table.column(self.column_name)
        what = f"drop {table.display}.{col.name}"
        pk = table.primary_key()
        if pk is not None and col.name in pk.columns:
            raise Refused(f"cannot {what}: it is part of the primary key {pk.name}; give the table another key first")
        for fk in table.incoming_on(col.name):
            raise Refused(
                f"cannot {what}: foreign key {fk.constraint.name} of {fk.table} references it; drop that foreign key "
                "in an earlier change"
            )
        if table.sequence_of(col.name) is not None or col.identity:
            raise Refused(
                f"cannot {what}: it owns a sequence (serial or identity), which would go with it; drop it by hand"
            )
        refuse_outside_users(table, col, what)
        return []

    def plan(self, catalog: Catalog, change: str) -> ChangePlan:
        table = catalog.table(self.table_name)
        col = table.column(self.column_name)
        t, c, ref = qualified(table.display), ident(col.name), f"{table.display}.{col.name}"
        loosen = col.not_null and col.default is None
        expand = Phase(
            summary=(
                f"Makes {ref} nullable, so that the new release, which no longer writes it, can insert rows."
                if loosen
                else f"Nothing changes in the schema yet: {ref} stays while the old release uses it."
            ),
            next_step=f"Before the next phase: deploy the release whose model no longer has {col.name}.",
            upgrade=[code.sql(f"ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL")] if loosen else [],
            downgrade=steps.not_null(table.display, table.name, col.name) if loosen else [],
            reversible=not loosen,
            reason=(
                f"rows the new release inserts have no {col.name}, so NOT NULL can come back only once they have one: "
                "the downgrade does it then (and fails, changing nothing, before)"
                if loosen
                else None
            ),
        )
        migrate = Phase(
            summary="Nothing to do: no data moves.",
            next_step=(
                f"Before the contract: no release that runs or may be rolled back to may read or write {col.name}."
            ),
        )
        contract = Phase(
            summary=f"Drops {ref} (with the indexes and constraints on it): a brief ACCESS EXCLUSIVE lock.",
            next_step=f"Its values are gone afterwards: the downgrade re-creates {col.name} empty.",
            upgrade=[code.sql(f"ALTER TABLE {t} DROP COLUMN {c}")],
            downgrade=self._recreate(catalog),
            reversible="lossy",
            reason=f"the downgrade re-creates {ref} with its indexes and constraints, but not its values",
        )
        return ChangePlan(expand, migrate, contract)

    def _recreate(self, catalog: Catalog) -> list[Step]:
        """The column as the expand left it, empty: its type, default, comment, indexes and constraints."""
        table = catalog.table(self.table_name)
        col = table.column(self.column_name)
        t, c = qualified(table.display), ident(col.name)
        collate = f" COLLATE {ident(col.collation)}" if col.collation else ""
        default = f" DEFAULT {col.default}" if col.default is not None else ""
        nn = " NOT NULL" if col.not_null and col.default is not None else ""
        out = [code.sql(f"ALTER TABLE {t} ADD COLUMN {c} {col.type}{collate}{nn}{default}")]
        if col.comment is not None:
            out.append(code.sql(f"COMMENT ON COLUMN {t}.{c} IS {literal(col.comment)}"))
        out += [code.sql(index_sql(i.definition, build=True), autocommit=True) for i in table.indexes_on(col.name)]
        for con in table.constraints_on(col.name):
            if con.kind == "u":
                index = con.index or con.name
                cols = ", ".join(ident(x) for x in con.columns)
                out.append(
                    code.sql(
                        f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {ident(index)} ON {t} ({cols})",
                        autocommit=True,
                    )
                )
                out.append(
                    code.sql(f"ALTER TABLE {t} ADD CONSTRAINT {ident(con.name)} UNIQUE USING INDEX {ident(index)}")
                )
            elif con.kind in ("c", "f"):
                if con.validated:
                    out += steps.add_validated(table.display, ident(con.name), con.definition)
                else:
                    out.append(code.sql(f"ALTER TABLE {t} ADD CONSTRAINT {ident(con.name)} {con.definition} NOT VALID"))
            else:
                raise Refused(f"cannot drop {table.display}.{col.name}: the downgrade cannot re-create {con.name}")
        return out
