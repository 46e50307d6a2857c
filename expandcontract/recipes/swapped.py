"""The table as a takeover leaves it (the shadow, under the column's final name, with its indexes and
constraints): the catalog a contract's downgrade starts from, so the same recipe code can plan it."""

from __future__ import annotations

from dataclasses import replace

from expandcontract.recipes.catalog import Constraint, ForeignKeyIn, Index, Table
from expandcontract.recipes.shadow import INTEGER_MAX, Shadow
from expandcontract.recipes.sqltext import check_body, copy_foreign_key, ident, index_sql, rename_columns


def after_takeover(shadow: Shadow, final_name: str, default: str | None) -> Table:
    """`table` as the takeover leaves it: the shadow, named `final_name`, with the column's properties,
    indexes and constraints; a copy of the catalog data, the input of the reverse recipe."""
    old, to_final = shadow.column.name, {shadow.column.name: final_name}
    col = replace(shadow.column, name=final_name, type=shadow.shadow_type, default=default)
    columns = {(final_name if k == old else k): (col if k == old else v) for k, v in shadow.table.columns.items()}
    indexes = [
        Index(
            i.name,
            index_sql(i.definition, to_final),
            tuple(to_final.get(c, c) for c in i.columns),
            i.unique,
            i.valid,
        )
        for i in shadow.table.indexes
    ]
    constraints = [_renamed(shadow, c, to_final) for c in shadow.table.constraints]
    incoming = [
        ForeignKeyIn(
            f.table,
            replace(
                f.constraint,
                definition=copy_foreign_key(f.constraint.definition, {}, to_final, shadow.table.display),
                ref_columns=tuple(to_final.get(c, c) for c in f.constraint.ref_columns),
            ),
        )
        for f in shadow.table.incoming
    ]
    sequences = [
        replace(
            s,
            column=final_name,
            type=shadow.shadow_type if shadow.shadow_type in INTEGER_MAX else s.type,
            max=INTEGER_MAX[shadow.shadow_type]
            if s.max == INTEGER_MAX.get(s.type) and shadow.shadow_type in INTEGER_MAX
            else s.max,
        )
        if s.column == old
        else s
        for s in shadow.table.sequences
    ]
    return replace(
        shadow.table,
        columns=columns,
        indexes=indexes,
        constraints=constraints,
        incoming=incoming,
        sequences=sequences,
    )


def _renamed(shadow: Shadow, con: Constraint, to_final: dict[str, str]) -> Constraint:
    if shadow.column.name not in con.columns and not (con.kind == "f" and con.ref_table == shadow.table.display):
        return con
    definition = con.definition
    if con.kind == "c":
        definition = f"CHECK ({rename_columns(check_body(con.definition), {k: ident(v) for k, v in to_final.items()})})"
    elif con.kind == "f":
        same = con.ref_table == shadow.table.display
        definition = copy_foreign_key(con.definition, to_final, to_final if same else {}, con.ref_table or "")
    elif con.kind in ("u", "p"):
        what = "PRIMARY KEY" if con.kind == "p" else "UNIQUE"
        definition = f"{what} ({', '.join(ident(to_final.get(c, c)) for c in con.columns)})"
    return replace(con, definition=definition, columns=tuple(to_final.get(c, c) for c in con.columns))
