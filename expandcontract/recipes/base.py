"""The Recipe interface: one schema change, read against the live schema, written as three phases.

A recipe is pure. `check(catalog)` refuses (`Refused`, exit 2, one line) what it cannot do safely and
returns the probes: SQL that must run on the scratch database at the project's heads (a `--using`
expression that has to type-check, a default that has to fit the column). `plan(catalog, change)`
returns the expand, migrate and contract revisions' content. The I/O around it is live.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from expandcontract.recipes.catalog import Catalog, Column, Refused, Table
from expandcontract.recipes.code import ChangePlan


@dataclass(frozen=True)
class Probe:
    """SQL that must succeed on the schema at heads (run in a transaction that is rolled back)."""

    sql: str
    failure: str  # what it means when PostgreSQL rejects it; the error follows


class Recipe(ABC):
    flag: str  # the `new` option, e.g. "--rename-column"

    @abstractmethod
    def check(self, catalog: Catalog) -> list[Probe]:
        """Refuse what cannot be done safely; return what to try on the scratch database."""

    @abstractmethod
    def plan(self, catalog: Catalog, change: str) -> ChangePlan:
        """The three phases (call check() first)."""

    @abstractmethod
    def touches(self) -> set[tuple[str, str]]:
        """(table, column) pairs this recipe changes: two recipes of one change must not share one."""


def refuse_outside_users(table: Table, column: Column, what: str) -> None:
    """Views, policies, triggers and the like that use a column: PostgreSQL would drop them with it (or
    refuse), and a recipe cannot rewrite them. Name the first one. `what`: "rename users.name"."""
    for dep in table.dependents.get(column.name, []):
        raise Refused(
            f"cannot {what}: {dep.kind} {dep.description} uses it; change the {dep.kind} in a change of its own first"
        )
    if column.has_acl:
        raise Refused(
            f"cannot {what}: it has column privileges (GRANT ... ({column.name})), which recipes do not copy; "
            "revoke them first and grant them again afterwards"
        )


def refuse_special_tables(table: Table, what: str) -> None:
    if table.kind == "p" or table.inherited:
        raise Refused(
            f"cannot {what}: {table.display} is partitioned or part of an inheritance tree, and CREATE INDEX "
            "CONCURRENTLY and the sync trigger do not cover partitions; write this change by hand"
        )
