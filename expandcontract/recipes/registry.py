"""The recipes `new` offers, one line each: the option, its arguments, its own options, the class.

The CLI builds `new`'s options from this list, and recipe modules are imported only when one is used, so
`heads --stamp` and `init` stay fast. The option names and arguments are public (DESIGN.md, "Recipes").
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from expandcontract.errors import UsageError
from expandcontract.recipes.base import Recipe


@dataclass(frozen=True)
class Extra:
    option: str  # "--using"
    metavar: str  # "SQL_EXPR"; "" for a flag
    help: str

    @property
    def dest(self) -> str:
        return self.option.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Entry:
    option: str
    args: tuple[str, ...]  # metavars of the option's own arguments
    target: str  # "module:Class"
    help: str
    extras: tuple[Extra, ...] = ()

    @property
    def dest(self) -> str:
        return self.option.lstrip("-").replace("-", "_")

    def build(self, values: tuple[str, ...], extras: dict[str, Any]) -> Recipe:
        module, _, name = self.target.partition(":")
        cls = getattr(importlib.import_module(f"expandcontract.recipes.{module}"), name)
        kwargs = {e.dest: extras[e.dest] for e in self.extras if extras.get(e.dest) not in (None, False)}
        recipe: Recipe = cls(*values, **kwargs)
        return recipe


RECIPES: tuple[Entry, ...] = (
    Entry("--rename-column", ("TABLE.COLUMN", "NEW_NAME"), "rename_column:RenameColumn", "Rename a column."),
    Entry(
        "--change-type",
        ("TABLE.COLUMN", "SQL_TYPE"),
        "change_type:ChangeType",
        "Change a column's type (a primary key too, with its sequence and the foreign keys into it).",
        (
            Extra("--using", "SQL_EXPR", "--change-type: the new value from the old column (default: a cast)."),
            Extra(
                "--back", "SQL_EXPR", "--change-type: the old value from the new one (writes through it, downgrade)."
            ),
        ),
    ),
    Entry(
        "--add-column",
        ("TABLE.COLUMN", "SQL_TYPE"),
        "add_column:AddColumn",
        "Add a column.",
        (
            Extra("--default", "SQL_EXPR", "--add-column: its default, also for the existing rows."),
            Extra("--not-null", "", "--add-column: make it NOT NULL (needs --default)."),
        ),
    ),
    Entry(
        "--set-not-null",
        ("TABLE.COLUMN",),
        "set_not_null:SetNotNull",
        "Make a column NOT NULL.",
        (Extra("--fill", "SQL_EXPR", "--set-not-null: the value for the existing NULLs."),),
    ),
    Entry(
        "--add-foreign-key",
        ("TABLE.COLUMN", "REF_TABLE.REF_COLUMN"),
        "add_foreign_key:AddForeignKey",
        "Add a foreign key.",
    ),
    Entry("--add-unique", ("TABLE.COLUMN[,COLUMN...]",), "add_unique:AddUnique", "Add a unique constraint."),
    Entry("--add-check", ("TABLE", "CONSTRAINT_NAME", "SQL_EXPR"), "add_check:AddCheck", "Add a check constraint."),
    Entry("--drop-column", ("TABLE.COLUMN",), "drop_column:DropColumn", "Drop a column."),
)


def chosen(values: dict[str, Any], *, autogenerate: bool, renames: tuple[str, ...]) -> Recipe | None:
    """The one recipe the options name (or None); refuses two recipes and options without their recipe."""
    picked = [e for e in RECIPES if values.get(e.dest)]
    names = [e.option for e in picked] + (["--autogenerate"] if autogenerate else [])
    if len(names) > 1:
        raise UsageError(f"{' and '.join(names)}: new takes one recipe at a time; write them as separate changes")
    for entry in RECIPES:
        for extra in entry.extras:
            if values.get(extra.dest) not in (None, False) and entry not in picked:
                raise UsageError(f"{extra.option} goes with {entry.option}")
    if renames and not autogenerate:
        raise UsageError("--rename goes with --autogenerate")
    if not picked:
        return None
    raw = values[picked[0].dest]  # click gives one argument as a str, several as a tuple
    return picked[0].build((raw,) if isinstance(raw, str) else tuple(raw), values)
