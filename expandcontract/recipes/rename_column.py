"""`--rename-column TABLE.COLUMN NEW_NAME`: rename a column while the old release reads and writes the
old name and the new release the new one.

Expand: the new column, a two-way sync trigger, the batched copy of the existing rows and copies of the
column's indexes and constraints; all of it before the new release starts, so it never reads a row that
is not filled yet (the backfill runs here, not in migrate: the trigger, not the app, keeps both names
equal, so nothing waits on a deploy). Migrate: nothing. Contract: the old column goes and everything
copied takes its original name. A primary key column, an identity or generated column, and a column a
view, policy or trigger uses are refused.
"""

from __future__ import annotations

from expandcontract.recipes import code
from expandcontract.recipes.base import Probe, Recipe, refuse_outside_users, refuse_special_tables
from expandcontract.recipes.catalog import Catalog, Refused, Table, split_column
from expandcontract.recipes.code import ChangePlan, Phase, Step
from expandcontract.recipes.copies import Copies, names_free
from expandcontract.recipes.shadow import Shadow, in_schema
from expandcontract.recipes.sqltext import MAX_IDENT, ident, qualified, short_name
from expandcontract.recipes.swapped import after_takeover


class RenameColumn(Recipe):
    flag = "--rename-column"

    def __init__(self, target: str, new_name: str) -> None:
        self.table_name, self.column_name = split_column(target)
        self.new_name = new_name

    def touches(self) -> set[tuple[str, str]]:
        return {(self.table_name, self.column_name), (self.table_name, self.new_name)}

    def _shadow(self, catalog: Catalog) -> Shadow:
        table = catalog.table(self.table_name)
        col = table.column(self.column_name)
        return Shadow(catalog, table, col, self.new_name, col.type, ident(col.name), ident(self.new_name), True)

    def check(self, catalog: Catalog) -> list[Probe]:
        table = catalog.table(self.table_name)
        col = table.column(self.column_name)
        what = f"rename {table.display}.{col.name}"
        if not self.new_name or len(self.new_name.encode()) > MAX_IDENT:
            raise Refused(f"{self.new_name!r} is not a valid column name (1 to {MAX_IDENT} bytes)")
        if self.new_name == col.name:
            raise Refused(f"{table.display}.{col.name} already has that name")
        refuse_special_tables(table, what)
        refuse_outside_users(table, col, what)
        if col.identity or col.generated:
            kind = "an identity" if col.identity else "a generated"
            raise Refused(f"cannot {what}: it is {kind} column, which a trigger cannot keep in sync")
        pk = table.primary_key()
        if pk is not None and col.name in pk.columns:
            raise Refused(
                f"cannot {what}: it is part of the primary key {pk.name}; a primary key column is renamed by "
                "hand (the key cannot be copied while the old one serves)"
            )
        shadow = self._shadow(catalog)
        shadow.check_names_free()
        names_free(catalog, table, shadow.copies(), shadow.copies(lambda o: short_name(o, "old")))
        return []

    def plan(self, catalog: Catalog, change: str) -> ChangePlan:
        fwd = self._shadow(catalog)
        table, col, new = fwd.table, fwd.column, self.new_name
        old_ref, new_ref = f"{table.display}.{col.name}", f"{table.display}.{new}"
        copies = fwd.copies()
        constants, sync = fwd.create_sync()
        expand = Phase(
            summary=(
                f"Adds {new_ref} beside {old_ref} with a trigger that keeps the two equal on every INSERT and on "
                f"every UPDATE of either column, whichever release writes it; copies {col.name} into {new} for "
                "the existing rows in batches; then gives "
                f"{new} copies of {col.name}'s indexes and constraints (built concurrently, validated in their "
                "own transactions). The copy runs here rather than in migrate so that the new release finds "
                "every row filled from its first query."
            ),
            next_step=f"Before the next phase: deploy the release whose model maps {new} instead of {col.name}.",
            upgrade=[
                *fwd.add_column(),
                *sync,
                fwd.backfill(
                    comment="the trigger covers every write from now on; this fills the rows written before it"
                ),
                *code.commented(
                    [*copies.build(attach_unique=True), *fwd.not_null(copies)],
                    f"{new} gets copies of {col.name}'s indexes and constraints, built without blocking writes",
                ),
            ],
            downgrade=[
                *_drop_incoming(copies),
                *fwd.drop_sync(),
                code.sql(f"ALTER TABLE {fwd.t} DROP COLUMN {ident(new)}"),
            ],
            constants=constants,
        )
        migrate = Phase(
            summary=f"Nothing to do: the expand copied every row and the trigger keeps {col.name} and {new} equal.",
            next_step=(
                f"Before the contract: remove {col.name} from the model of every release that still runs or may be "
                f"rolled back to; only code that uses {new} may remain."
            ),
        )
        contract = Phase(
            summary=(
                f"Drops {old_ref} and the sync trigger in one short transaction; {new} takes over "
                f"{col.name}'s default and the original names of its indexes and constraints."
            ),
            next_step=(
                f"The downgrade re-creates {col.name} from {new} (in batches) with the trigger, for a rollback to "
                f"a release that uses {col.name}."
            ),
            upgrade=[
                *fwd.takeover(copies, final_name=new, default=col.default, attached_unique=True),
                code.forget_backfill(_undo_name(change, table)),
            ],
            downgrade=self._undo_contract(fwd, copies, change),
            constants=constants,  # the downgrade re-creates the trigger
        )
        return ChangePlan(expand, migrate, contract, renames={old_ref: new_ref})

    def _undo_contract(self, fwd: Shadow, copies: Copies, change: str) -> list[Step]:
        """From the contracted table back to the expanded one: the old column again, filled from the new
        one, with copies of the new column's indexes and constraints; then the names swap back."""
        col, new = fwd.column, self.new_name
        after = after_takeover(fwd, new, col.default)
        rev = Shadow(fwd.catalog, after, after.columns[new], col.name, col.type, ident(new), ident(col.name), False)
        back = rev.copies(lambda original: short_name(original, "old"))
        _, sync = fwd.create_sync()
        t = fwd.t
        swap: list[Step] = []
        if col.default is not None:
            swap.append(code.sql(f"ALTER TABLE {t} ALTER COLUMN {ident(new)} DROP DEFAULT"))
            swap.append(code.sql(f"ALTER TABLE {t} ALTER COLUMN {ident(col.name)} SET DEFAULT {col.default}"))
        seq = fwd.table.sequence_of(col.name)
        if seq is not None:
            swap.append(code.sql(f"ALTER SEQUENCE {qualified(seq.name)} OWNED BY {t}.{ident(col.name)}"))
        swap += _swap_names(fwd.table, back, copies)
        return [
            *code.commented(
                [*rev.add_column(), *sync, rev.backfill(name=_undo_name(change, fwd.table))],
                f"{col.name} again, kept equal to {new} by the trigger and filled in batches",
            ),
            *code.commented(
                [*back.build(attach_unique=True), *rev.not_null(back)],
                f"{col.name} gets copies of {new}'s indexes and constraints",
            ),
            *code.commented(swap, f"{col.name}'s default and the original names back, in one short transaction"),
        ]


def _undo_name(change: str, table: Table) -> str:
    return f"{change}.{table.name}.downgrade"


def _drop_incoming(copies: Copies) -> list[Step]:
    """Foreign keys of other tables that reference a column must go before the column can."""
    return [
        code.sql(f"ALTER TABLE {qualified(c.table)} DROP CONSTRAINT IF EXISTS {ident(c.name)}")
        for c in copies.items
        if c.incoming
    ]


def _swap_names(table: Table, back: Copies, forward: Copies) -> list[Step]:
    """Each original name goes back to the old column's copy; the new column's objects take the names
    the expand gave them."""
    expand_name = {c.original: c.name for c in forward.items}
    steps: list[Step] = []
    for c in back.items:
        if c.kind == "n":
            continue
        if c.kind == "i":
            for src, dst in ((c.original, expand_name[c.original]), (c.name, c.original)):
                steps.append(code.sql(f"ALTER INDEX {qualified(in_schema(table.schema, src))} RENAME TO {ident(dst)}"))
        else:
            for src, dst in ((c.original, expand_name[c.original]), (c.name, c.original)):
                steps.append(
                    code.sql(f"ALTER TABLE {qualified(c.table)} RENAME CONSTRAINT {ident(src)} TO {ident(dst)}")
                )
    return steps
