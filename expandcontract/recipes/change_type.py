"""`--change-type TABLE.COLUMN SQL_TYPE [--using SQL_EXPR] [--back SQL_EXPR]`: change a column's type
while both releases read and write it under its own name.

Expand: a shadow column of the new type and a two-way sync trigger. Migrate: the batched backfill of the
shadow. Contract: copies of the column's indexes, keys and constraints on the shadow (concurrently, NOT
VALID then VALIDATE), then one short transaction swaps it in: NOT NULL from the validated check, the
primary key from its unique index, the sequence (or identity) moved and widened, the foreign keys of other
tables re-pointed, the old column dropped and the shadow renamed into place. A type change PostgreSQL
does without a rewrite (varchar(n) to varchar(m >= n), varchar to text, numeric(p, s) to numeric(p' >= p,
s)) is one ALTER in the contract instead.

`--using` says how an old value becomes a new one, `--back` how a new one goes back (for writes through
the shadow and for the downgrade); both are expressions over the column's own name. Without them the
conversion is PostgreSQL's assignment cast.

Either way the column's result type changes under the running release at the contract, which breaks its
psycopg prepared statements (`cached plan must not change result type`) unless the release reads the
column cast to the new type: the revision docstrings and docs/recipes.md say how.
"""

from __future__ import annotations

from dataclasses import replace

from expandcontract.recipes import code
from expandcontract.recipes.base import Probe, Recipe, refuse_outside_users, refuse_special_tables
from expandcontract.recipes.catalog import Catalog, Column, Refused, Table, split_column
from expandcontract.recipes.code import ChangePlan, Phase, Step
from expandcontract.recipes.copies import names_free
from expandcontract.recipes.shadow import INTEGER_MAX, Shadow
from expandcontract.recipes.sqltext import check_body, ident, qualified, referenced_columns, rename_columns, short_name
from expandcontract.recipes.swapped import after_takeover
from expandcontract.sql.nodes import parse_type, type_change_rewrites


class ChangeType(Recipe):
    flag = "--change-type"

    def __init__(self, target: str, sql_type: str, using: str | None = None, back: str | None = None) -> None:
        self.table_name, self.column_name = split_column(target)
        self.sql_type = sql_type.strip()
        self.using = using
        self.back = back

    def touches(self) -> set[tuple[str, str]]:
        return {(self.table_name, self.column_name)}

    # -- names and expressions ----------------------------------------------------------------------------
    def _shadow_name(self, table: Table) -> str:
        base = short_name(self.column_name, "new")
        name, n = base, 2
        while name in table.columns:
            name, n = short_name(self.column_name, f"new{n}"), n + 1
        return name

    def _shadow(self, catalog: Catalog) -> Shadow:
        table = catalog.table(self.table_name)
        col = table.column(self.column_name)
        shadow = self._shadow_name(table)
        forward = self.using or ident(col.name)
        back = rename_columns(self.back, {col.name: ident(shadow)}) if self.back else ident(shadow)
        return Shadow(catalog, table, col, shadow, self.sql_type, forward, back, False)

    def _in_place(self, col: Column) -> bool:
        """PostgreSQL changes the type without rewriting the table or its indexes."""
        return self.using is None and not type_change_rewrites(parse_type(col.type), parse_type(self.sql_type))

    def _new_default(self, col: Column) -> str | None:
        if col.default is None or col.identity:
            return None
        if self.using is None or col.default.startswith("nextval("):
            return col.default
        return rename_columns(self.using, {col.name: f"({col.default})"})

    # -- check --------------------------------------------------------------------------------------------
    def check(self, catalog: Catalog) -> list[Probe]:
        table = catalog.table(self.table_name)
        col = table.column(self.column_name)
        what = f"change the type of {table.display}.{col.name}"
        refuse_special_tables(table, what)
        refuse_outside_users(table, col, what)
        if col.generated:
            raise Refused(f"cannot {what}: it is a generated column; change its expression by hand")
        if parse_type(col.type) == parse_type(self.sql_type):
            raise Refused(f"{table.display}.{col.name} is already {col.type}")
        seq = table.sequence_of(col.name)
        if seq is not None and self.sql_type.lower() not in INTEGER_MAX:
            raise Refused(
                f"cannot {what} to {self.sql_type}: it takes its values from sequence {seq.name}, which only "
                "makes smallint, integer or bigint"
            )
        t = qualified(table.display)
        null_new = f"CAST(NULL AS {self.sql_type})"
        probes = [Probe(f"SELECT {null_new}", f"{self.sql_type!r} is not a type PostgreSQL knows")]
        forward = self.using or ident(col.name)
        _only_columns_of(table, forward, "--using")
        probes.append(
            Probe(
                f"CREATE TEMP TABLE ec_probe (v {self.sql_type}) ON COMMIT DROP; "
                f"INSERT INTO ec_probe SELECT {forward} FROM {t} WHERE false",
                f"PostgreSQL cannot turn {col.type} {col.name} into {self.sql_type} as "
                f"{'--using ' + repr(self.using) if self.using else 'an assignment'}"
                + ("" if self.using else "; give --using SQL_EXPR (and --back SQL_EXPR)"),
            )
        )
        if self._in_place(col):
            return probes
        back = self.back or ident(col.name)
        _only_columns_of(table, back, "--back")
        probes.append(
            Probe(
                f"CREATE TEMP TABLE ec_probe_back (v {col.type}) ON COMMIT DROP; INSERT INTO ec_probe_back "
                f"SELECT {rename_columns(back, {col.name: null_new})} FROM {t} WHERE false",
                f"PostgreSQL cannot turn a {self.sql_type} back into {col.type} as "
                f"{'--back ' + repr(self.back) if self.back else 'an assignment'}"
                + ("" if self.back else " (for writes through the new column and the downgrade); give --back SQL_EXPR"),
            )
        )
        default = self._new_default(col)
        if default is not None:
            probes.append(
                Probe(
                    f"CREATE TEMP TABLE ec_probe_default (v {self.sql_type} DEFAULT {default}) ON COMMIT DROP",
                    f"the default of {col.name} ({col.default}) does not fit {self.sql_type} as {default}",
                )
            )
        for con in table.constraints_on(col.name):
            if con.kind == "c":
                body = rename_columns(check_body(con.definition), {col.name: null_new})
                probes.append(
                    Probe(
                        f"SELECT ({body})::boolean FROM {t} WHERE false",
                        f"check constraint {con.name} does not work on a {self.sql_type} {col.name}",
                    )
                )
        shadow = self._shadow(catalog)
        shadow.check_names_free()
        names_free(catalog, table, shadow.copies(), shadow.copies(lambda o: short_name(o, "old")))
        return probes

    # -- plan -----------------------------------------------------------------------------------------
    def plan(self, catalog: Catalog, change: str) -> ChangePlan:
        table = catalog.table(self.table_name)
        col = table.column(self.column_name)
        if self._in_place(col):
            return self._plan_in_place(table, col)
        fwd = self._shadow(catalog)
        ref, new = f"{table.display}.{col.name}", fwd.shadow
        copies = fwd.copies()
        constants, sync = fwd.create_sync()
        default = self._new_default(col)
        undo, undo_constants, undo_names = self._undo_contract(fwd, change)
        cast_note = _prepared_statements_note(col.name, self.sql_type)
        expand = Phase(
            summary=(
                f"Adds {table.display}.{new} ({self.sql_type}) beside {ref} ({col.type}) and a trigger that keeps "
                f"it equal to {col.name} converted, on every INSERT and on every UPDATE of either column, "
                f"whichever release writes it. Both releases keep using {col.name}; nothing reads {new}."
            ),
            next_step=f"Before the next phase: deploy the new release. {cast_note}",
            upgrade=[*fwd.add_column(), *sync],
            downgrade=[*fwd.drop_sync(), code.sql(f"ALTER TABLE {fwd.t} DROP COLUMN {ident(new)}")],
            constants=constants,
        )
        migrate = Phase(
            summary=(
                f"Fills {new} for the rows written before the expand, in batches (op.backfill: throttled, "
                "resumable); the trigger covers every write since."
            ),
            next_step=(
                f"Before the contract: every release that runs or may be rolled back to must read {col.name} as "
                f"{self.sql_type} (see the expand's docstring); none may use {new}."
            ),
            upgrade=[fwd.backfill()],
            reason="the copied values stay; the expand's downgrade drops the column",
        )
        swap = [
            *fwd.not_null(copies),
            *fwd.takeover(copies, final_name=col.name, default=default, attached_unique=False),
        ]
        contract = Phase(
            summary=(
                f"Builds copies of {col.name}'s indexes and keys on {new} concurrently and validates copies of its "
                f"constraints in their own transactions, then swaps {new} in for {col.name} in one short "
                "transaction (NOT NULL proved by the validated check, keys attached USING INDEX, "
                + ("the sequence moved and widened, " if table.sequence_of(col.name) else "")
                + ("foreign keys of other tables re-pointed, " if table.incoming_on(col.name) else "")
                + f"{ref} dropped and {new} renamed to {col.name})."
            ),
            next_step=(
                f"{cast_note} The downgrade runs the same change backwards (a shadow of type {col.type}, filled "
                "in batches, swapped in), then this change's expand and migrate again."
            ),
            upgrade=[
                *code.commented(
                    copies.build(attach_unique=False),
                    f"{new} gets copies of {col.name}'s indexes, keys and constraints, built without blocking writes",
                ),
                *code.commented(swap, "the swap, in one short transaction"),
                code.forget_backfill(*undo_names),
            ],
            downgrade=undo,
            constants=undo_constants,
        )
        return ChangePlan(expand, migrate, contract)

    def _undo_contract(self, fwd: Shadow, change: str) -> tuple[list[Step], dict[str, str], list[str]]:
        """The contract backwards from the swapped table: a shadow of the old type, filled in batches and
        swapped in; then the expand and the migrate of this change again, so the table is as the migrate left
        it. Returns the steps, their SQL constants and the backfills they run."""
        col = fwd.column
        after = after_takeover(fwd, col.name, self._new_default(col))
        catalog = replace(fwd.catalog, tables={**fwd.catalog.tables, (after.schema, after.name): after})
        old_name = short_name(col.name, "old")
        rev = Shadow(
            catalog,
            after,
            after.columns[col.name],
            old_name,
            col.type,
            rename_columns(fwd.back, {fwd.shadow: ident(col.name)}),
            rename_columns(fwd.forward, {col.name: ident(old_name)}),
            False,
            sync_name=short_name(fwd.table.name, "sync", old_name),
        )
        rev_copies = rev.copies(lambda original: short_name(original, "old"))
        rev_constants, rev_sync = rev.create_sync()
        fwd_constants, fwd_sync = fwd.create_sync()
        names = [f"{change}.{fwd.table.name}.downgrade", f"{change}.{fwd.table.name}.refill"]
        swap = [
            *rev.not_null(rev_copies),
            *rev.takeover(rev_copies, final_name=col.name, default=col.default, attached_unique=False, undoing=True),
        ]
        steps = [
            *code.commented(
                [*rev.add_column(), *rev_sync, rev.backfill(name=names[0])],
                f"1. the change backwards: {old_name} ({col.type}) kept equal to {col.name} and filled in batches",
            ),
            *code.commented(
                rev_copies.build(attach_unique=False), f"{old_name} gets copies of the indexes and constraints"
            ),
            *code.commented(swap, "the swap back, in one short transaction"),
            *code.commented(
                [*fwd.add_column(), *fwd_sync, fwd.backfill(name=names[1])],
                f"2. this change's expand and migrate again: {fwd.shadow} ({fwd.shadow_type}), synced and filled",
            ),
        ]
        return steps, {**rev_constants, **fwd_constants}, names

    def _plan_in_place(self, table: Table, col: Column) -> ChangePlan:
        t, c = qualified(table.display), ident(col.name)
        ref = f"{table.display}.{col.name}"
        cast_note = _prepared_statements_note(col.name, self.sql_type)
        expand = Phase(
            summary=(
                f"Nothing to do yet: PostgreSQL changes {ref} from {col.type} to {self.sql_type} without "
                "rewriting the table, so the contract does it in one statement."
            ),
            next_step=f"Before the next phase: deploy the new release. {cast_note}",
        )
        migrate = Phase(
            summary="Nothing to do: no data moves.",
            next_step=(
                f"Before the contract: every release that runs or may be rolled back to reads {col.name} as "
                f"{self.sql_type}."
            ),
        )
        contract = Phase(
            summary=f"Changes {ref} to {self.sql_type} in place: a brief ACCESS EXCLUSIVE lock, no rewrite, no scan.",
            next_step=(
                f"The downgrade changes it back to {col.type}, which PostgreSQL checks row by row under an ACCESS "
                "EXCLUSIVE lock."
            ),
            upgrade=[code.sql(f"ALTER TABLE {t} ALTER COLUMN {c} TYPE {self.sql_type}")],
            downgrade=[
                code.ignoring(
                    code.sql(f"ALTER TABLE {t} ALTER COLUMN {c} TYPE {col.type}"),
                    "change-column-type",
                    "undoing a widening narrows in place; the docstring says what it locks",
                )
            ],
        )
        return ChangePlan(expand, migrate, contract)


def _only_columns_of(table: Table, expr: str, flag: str) -> None:
    unknown = referenced_columns(expr) - set(table.columns)
    if unknown:
        raise Refused(f"{flag} {expr!r} uses {', '.join(sorted(unknown))}, which {table.display} does not have")


def _prepared_statements_note(column: str, sql_type: str) -> str:
    return (
        f"At the contract {column}'s result type becomes {sql_type}; a running release's prepared statements "
        f"that return {column} (SELECT, INSERT ... RETURNING) would then fail with `cached plan must not change "
        f"result type` until their connection closes. So the new release reads it cast: map {column} with a "
        f"SQLAlchemy TypeDecorator whose column_expression is CAST({column} AS {sql_type}) (docs/recipes.md)."
    )
