"""A shadow column: how a rename and a type change replace a column while two releases write it.

`Shadow` names the pair (the column being replaced, its shadow) and writes the pieces both recipes use:
- the shadow column, and a two-way sync trigger that fires on INSERT and on every UPDATE of either
  column, copies whichever side was written to the other, and never loops (a BEFORE ROW trigger assigns
  NEW and runs no statement). The batched backfill sets `expandcontract.backfill = on` and writes
  consistent values itself, so the trigger steps aside for it.
- `copies()`: everything attached to the column (indexes, unique and primary keys, checks, foreign keys
  both ways, NOT NULL) copied onto the shadow under other names (copies.py builds them: indexes
  CONCURRENTLY, constraints NOT VALID and then VALIDATE in their own transactions, once the backfill has
  filled the shadow).
- the takeover: one short transaction that drops the old column and puts the shadow in its place,
  with each copy under its original name, the default and the sequence or identity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from expandcontract.recipes import code
from expandcontract.recipes.catalog import (
    Catalog,
    Column,
    Constraint,
    Refused,
    Sequence,
    Table,
)
from expandcontract.recipes.code import Step
from expandcontract.recipes.copies import Copies, Copy, attach_sql
from expandcontract.recipes.sqltext import (
    check_body,
    copy_foreign_key,
    ident,
    index_sql,
    literal,
    qualified,
    rename_columns,
    short_name,
)

BACKFILL_GUARD = "current_setting('expandcontract.backfill', true) = 'on'"

INTEGER_MAX = {"smallint": 32767, "integer": 2147483647, "bigint": 9223372036854775807}


def in_schema(schema: str, name: str) -> str:
    """The display name of relation `name` in `schema` (public left out)."""
    return name if schema == "public" else f"{schema}.{name}"


@dataclass(frozen=True)
class Shadow:
    catalog: Catalog
    table: Table
    column: Column  # the column being replaced
    shadow: str  # its shadow's name
    shadow_type: str
    forward: str  # SQL over the column: the shadow's value
    back: str  # SQL over the shadow: the column's value
    insert_prefers_shadow: bool  # rename: the new release writes the shadow; the old column may have a default
    sync_name: str | None = None  # default: <table>_sync_<shadow>

    @property
    def t(self) -> str:
        return qualified(self.table.display)

    @property
    def function(self) -> str:
        return self.sync_name or short_name(self.table.name, "sync", self.shadow)

    @property
    def function_sql(self) -> str:
        return qualified(in_schema(self.table.schema, self.function))

    @property
    def constant(self) -> str:
        return short_name("sync", self.table.name, self.shadow).upper() + "_FUNCTION"

    def check_names_free(self) -> None:
        if self.shadow in self.table.columns:
            raise Refused(f"table {self.table.display} already has a column {self.shadow!r}")
        if self.catalog.function_exists(self.table.schema, self.function) or self.function in self.table.triggers:
            raise Refused(
                f"a function or trigger named {self.function} already exists on {self.table.display}; drop it first"
            )

    # -- the shadow column and its sync trigger ------------------------------------------------------
    def add_column(self) -> list[Step]:
        collate = f" COLLATE {ident(self.column.collation)}" if self.column.collation else ""
        add = f"ALTER TABLE {self.t} ADD COLUMN IF NOT EXISTS {ident(self.shadow)} {self.shadow_type}{collate}"
        steps = [code.sql(add)]
        if self.column.comment is not None:
            steps.append(code.sql(f"COMMENT ON COLUMN {self.t}.{ident(self.shadow)} IS {literal(self.column.comment)}"))
        return steps

    def sync_sql(self) -> str:
        c, s = ident(self.column.name), ident(self.shadow)
        to_shadow = f"NEW.{s} := {rename_columns(self.forward, {self.column.name: f'NEW.{c}'})}"
        to_column = f"NEW.{c} := {rename_columns(self.back, {self.shadow: f'NEW.{s}'})}"
        (first, first_copy), (second, second_copy) = (
            ((s, to_column), (c, to_shadow)) if self.insert_prefers_shadow else ((c, to_shadow), (s, to_column))
        )
        return f"""
CREATE OR REPLACE FUNCTION {self.function_sql}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF {BACKFILL_GUARD} THEN
        RETURN NEW;  -- the batched backfill writes both columns itself
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.{first} IS NOT NULL THEN
            {first_copy};
        ELSIF NEW.{second} IS NOT NULL THEN
            {second_copy};
        END IF;
    ELSIF NEW.{first} IS DISTINCT FROM OLD.{first} THEN
        {first_copy};
    ELSIF NEW.{second} IS DISTINCT FROM OLD.{second} THEN
        {second_copy};
    END IF;
    RETURN NEW;
END
$$"""

    def create_sync(self) -> tuple[dict[str, str], list[Step]]:
        trigger = (
            f"CREATE TRIGGER {ident(self.function)} BEFORE INSERT OR UPDATE OF {ident(self.column.name)}, "
            f"{ident(self.shadow)} ON {self.t} FOR EACH ROW EXECUTE FUNCTION {self.function_sql}()"
        )
        return {self.constant: self.sync_sql()}, [
            code.run_constant(self.constant),
            code.sql(f"DROP TRIGGER IF EXISTS {ident(self.function)} ON {self.t}"),
            code.sql(trigger),
        ]

    def drop_sync(self) -> list[Step]:
        return [
            code.sql(f"DROP TRIGGER {ident(self.function)} ON {self.t}"),
            code.sql(f"DROP FUNCTION {self.function_sql}()"),
        ]

    def backfill(self, *, name: str | None = None, comment: str | None = None) -> Step:
        c, s = ident(self.column.name), ident(self.shadow)
        where = f"{s} IS NULL AND {c} IS NOT NULL"
        return code.backfill(self.table.display, {self.shadow: self.forward}, where, name=name, comment=comment)

    # -- copies of what is attached to the column ------------------------------------------------------
    def copies(self, name: Callable[[str], str] | None = None) -> Copies:
        """The column's indexes and constraints copied for the shadow, each named `name(original)`
        (default `<original>_new`); a NOT NULL column adds a NOT NULL check for the shadow."""
        name = name or (lambda original: short_name(original, "new"))
        table, col, to_shadow = self.table, self.column.name, {self.column.name: self.shadow}
        out = Copies()
        for idx in table.indexes_on(col):
            out.items.append(
                Copy(
                    "i",
                    table.display,
                    idx.name,
                    name(idx.name),
                    index_sql(idx.definition, to_shadow, name=name(idx.name), build=True),
                )
            )
        for con in table.constraints_on(col):
            out.items.append(self._copy_constraint(con, name(con.name), to_shadow))
        for fk_in in table.incoming_on(col):
            con = fk_in.constraint
            fk = copy_foreign_key(con.definition, {}, to_shadow, table.display)
            add = f"ALTER TABLE {qualified(fk_in.table)} ADD CONSTRAINT {ident(name(con.name))} {fk} NOT VALID"
            out.items.append(Copy("f", fk_in.table, con.name, name(con.name), add, con.validated, incoming=True))
        if self.column.not_null:
            check = short_name(table.name, self.shadow, "not_null")
            add = (
                f"ALTER TABLE {self.t} ADD CONSTRAINT {ident(check)} CHECK ({ident(self.shadow)} IS NOT NULL) NOT VALID"
            )
            out.items.append(Copy("n", table.display, "", check, add))
        return out

    def _copy_constraint(self, con: Constraint, name: str, to_shadow: dict[str, str]) -> Copy:
        if con.kind in ("u", "p"):
            cols = ", ".join(ident(to_shadow.get(c, c)) for c in con.columns)
            build = f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {ident(name)} ON {self.t} ({cols})"
            return Copy(con.kind, self.table.display, con.name, name, build)
        if con.kind == "c":
            body = rename_columns(check_body(con.definition), {k: ident(v) for k, v in to_shadow.items()})
            add = f"ALTER TABLE {self.t} ADD CONSTRAINT {ident(name)} CHECK ({body}) NOT VALID"
            return Copy("c", self.table.display, con.name, name, add, con.validated)
        if con.kind == "f":
            assert con.ref_table is not None
            same = con.ref_table == self.table.display
            fk = copy_foreign_key(con.definition, to_shadow, to_shadow if same else {}, con.ref_table)
            add = f"ALTER TABLE {self.t} ADD CONSTRAINT {ident(name)} {fk} NOT VALID"
            return Copy("f", self.table.display, con.name, name, add, con.validated)
        raise Refused(
            f"{self.table.display}.{self.column.name} is part of exclusion constraint {con.name}, which has no "
            "NOT VALID or USING INDEX form; change it in a maintenance window"
        )

    def not_null(self, copies: Copies) -> list[Step]:
        """SET NOT NULL on the shadow, proved by its validated check (no scan), and drop the check."""
        steps: list[Step] = []
        for con in copies.of("n"):
            steps.append(code.sql(f"ALTER TABLE {self.t} ALTER COLUMN {ident(self.shadow)} SET NOT NULL"))
            steps.append(code.sql(f"ALTER TABLE {self.t} DROP CONSTRAINT IF EXISTS {ident(con.name)}"))
        return steps

    # -- the takeover ---------------------------------------------------------------------------------------
    def takeover(
        self, copies: Copies, *, final_name: str, default: str | None, attached_unique: bool, undoing: bool = False
    ) -> list[Step]:
        """One transaction: the sync trigger, the sequence or identity, the old column and the foreign keys
        into it go; the shadow takes the column's name, each copy its original's name, and the default."""
        t, s = self.t, ident(self.shadow)
        schema = self.table.schema
        steps = self.drop_sync()
        seq = self.table.sequence_of(self.column.name)
        temp_seq: str | None = None
        if seq is not None and not seq.identity:
            steps.append(code.sql(f"ALTER SEQUENCE {qualified(seq.name)} OWNED BY {t}.{s}"))
            if self.shadow_type in INTEGER_MAX and seq.type != self.shadow_type:
                steps.append(code.sql(f"ALTER SEQUENCE {qualified(seq.name)} AS {self.shadow_type}"))
        elif seq is not None:
            temp_seq = short_name(seq.name.split(".")[-1], "new")
            steps += self._move_identity(seq, temp_seq)
        steps += [
            code.sql(f"ALTER TABLE {qualified(c.table)} DROP CONSTRAINT {ident(c.original)}")
            for c in copies.items
            if c.incoming
        ]
        drop = code.sql(f"ALTER TABLE {t} DROP COLUMN {ident(self.column.name)}")
        rename = code.sql(f"ALTER TABLE {t} RENAME COLUMN {s} TO {ident(final_name)}")
        if undoing:  # the linter reads a downgrade's swap as a drop and a rename under the running release
            why = f"the swap: {self.shadow}, kept equal to {self.column.name}, takes its place in this transaction"
            drop, rename = code.ignoring(drop, "drop-column", why), code.ignoring(rename, "rename-column", why)
        steps.append(drop)
        if final_name != self.shadow:
            steps.append(rename)
        steps += [
            code.sql(f"ALTER INDEX {qualified(in_schema(schema, c.name))} RENAME TO {ident(c.original)}")
            for c in copies.of("i")
        ]
        for con in copies.of("u", "p", "c", "f"):
            if con.kind == "p" or (con.kind == "u" and not attached_unique):
                steps.append(code.sql(attach_sql(con, con.original)))
            else:
                to_original = f"RENAME CONSTRAINT {ident(con.name)} TO {ident(con.original)}"
                steps.append(code.sql(f"ALTER TABLE {qualified(con.table)} {to_original}"))
        if default is not None:
            steps.append(code.sql(f"ALTER TABLE {t} ALTER COLUMN {ident(final_name)} SET DEFAULT {default}"))
        if temp_seq is not None and seq is not None:
            original = ident(seq.name.split(".")[-1])
            steps.append(code.sql(f"ALTER SEQUENCE {qualified(in_schema(schema, temp_seq))} RENAME TO {original}"))
        return steps

    def _move_identity(self, seq: Sequence, temp_seq: str) -> list[Step]:
        kind = "ALWAYS" if self.column.identity == "a" else "BY DEFAULT"
        options = [f"SEQUENCE NAME {qualified(in_schema(self.table.schema, temp_seq))}"]
        if seq.start != 1:
            options.append(f"START WITH {seq.start}")
        if seq.increment != 1:
            options.append(f"INCREMENT BY {seq.increment}")
        if seq.max != INTEGER_MAX.get(seq.type) and seq.increment > 0:
            options.append(f"MAXVALUE {seq.max}")
        if seq.min != 1 and seq.increment > 0:
            options.append(f"MINVALUE {seq.min}")
        if seq.cache != 1:
            options.append(f"CACHE {seq.cache}")
        if seq.cycle:
            options.append("CYCLE")
        temp = qualified(in_schema(self.table.schema, temp_seq))
        return [
            code.sql(
                f"ALTER TABLE {self.t} ALTER COLUMN {ident(self.shadow)} ADD GENERATED {kind} AS IDENTITY "
                f"({' '.join(options)})"
            ),
            code.sql(
                f"SELECT setval({literal(temp)}, last_value, is_called) FROM {qualified(seq.name)}",
                comment="the new identity continues where the old one stopped",
            ),
        ]
