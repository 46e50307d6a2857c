"""Copies of what is attached to a column (indexes, unique and primary keys, checks, foreign keys both
ways, the NOT NULL check), as a rename or a type change builds them on the shadow column before the
takeover, and the check that their names are free."""

from __future__ import annotations

from dataclasses import dataclass, field

from expandcontract.recipes import code
from expandcontract.recipes.catalog import Catalog, Refused, Table
from expandcontract.recipes.code import Step
from expandcontract.recipes.sqltext import ident, qualified


@dataclass(frozen=True)
class Copy:
    """One copied index or constraint: `original` stays on the column, `name` goes on the shadow."""

    kind: str  # 'i' index, 'u' unique, 'p' primary key, 'c' check, 'f' foreign key, 'n' the NOT NULL check
    table: str  # display name of the table it is on (the referencing table for a foreign key in)
    original: str
    name: str
    sql: str  # CREATE INDEX CONCURRENTLY (i, u, p) or ADD CONSTRAINT ... NOT VALID (c, f, n)
    validate: bool = True  # VALIDATE the copy (the original is validated)
    incoming: bool = False  # a foreign key of another table (or this one) referencing the column


@dataclass
class Copies:
    items: list[Copy] = field(default_factory=list)

    def of(self, *kinds: str) -> list[Copy]:
        return [c for c in self.items if c.kind in kinds]

    def build(self, *, attach_unique: bool) -> list[Step]:
        """Indexes concurrently; constraints NOT VALID (re-runnable: an earlier failed attempt's copy is
        dropped first); then VALIDATE each in its own transaction. `attach_unique`: the unique copies
        become constraints now (USING INDEX) rather than at the takeover."""
        steps = [code.sql(c.sql, autocommit=True) for c in self.of("i", "u", "p")]
        if attach_unique:
            steps += [code.sql(attach_sql(c, c.name)) for c in self.of("u")]
        for i, con in enumerate(self.of("c", "f", "n")):
            note = "a copy left by an earlier, failed attempt is dropped first" if i == 0 else None
            drop = f"ALTER TABLE {qualified(con.table)} DROP CONSTRAINT IF EXISTS {ident(con.name)}"
            steps += [code.sql(drop, comment=note), code.sql(con.sql)]
        steps += [
            code.sql(f"ALTER TABLE {qualified(c.table)} VALIDATE CONSTRAINT {ident(c.name)}", autocommit=True)
            for c in self.of("c", "f", "n")
            if c.validate
        ]
        return steps


def attach_sql(copy: Copy, name: str) -> str:
    what = "PRIMARY KEY" if copy.kind == "p" else "UNIQUE"
    return f"ALTER TABLE {qualified(copy.table)} ADD CONSTRAINT {ident(name)} {what} USING INDEX {ident(copy.name)}"


def names_free(catalog: Catalog, table: Table, *all_copies: Copies) -> None:
    """Refuse when a name a copy would take is in use (CREATE INDEX ... IF NOT EXISTS would then skip it)."""
    for copies in all_copies:
        for c in copies.items:
            on = catalog.find(c.table) or table
            if c.kind in ("i", "u", "p") and catalog.relation_exists(table.schema, c.name):
                raise Refused(f"cannot use the name {c.name} for a copy of {c.original}: a relation has that name")
            if (on.display, c.name) in catalog.constraint_names:
                raise Refused(
                    f"cannot use the name {c.name} for a copy of {c.original}: {on.display} has a constraint so named"
                )
