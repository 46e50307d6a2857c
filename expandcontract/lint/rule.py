"""The Rule protocol. A rule is a class in its own module under lint/rules/: its docstring is its
documentation (What it does / Why is this bad? / Example / Use instead), its class attributes are its
metadata, and `check` is a pure function of one statement and the lint context."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from expandcontract.lint.context import LintContext
from expandcontract.sql.parse import Statement

CATALOGUE = "catalogue"
PHASE = "phase"
GRAPH = "graph"
META = "meta"

SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead")


@dataclass
class Hit:
    """What a rule found in one statement; the engine adds path, position, severity and phase."""

    message: str
    fix: list[str] = field(default_factory=list)
    table: str | None = None
    lock: str | None = None
    pending_on: tuple[str, str] | None = None  # (table, column): a finding only if this change backfills it later


@dataclass(frozen=True)
class LockCheck:
    """A lock/rewrite claim, executed on a real PostgreSQL by tests/lint/test_lock_facts.py: run `setup`,
    then `sql` in a transaction, read pg_locks on `table` before commit, and compare its relfilenode
    before and after."""

    setup: str
    sql: str
    table: str
    lock: str | None  # strongest mode expected on `table` (None: not checked)
    rewrite: bool | None = None
    min_version: int = 10
    max_version: int = 99
    fails_in_transaction: bool = False  # the claim is that PostgreSQL refuses `sql` inside a transaction
    in_transaction: bool = True  # False: statements that cannot run in a transaction (rewrite only)
    scan: bool | None = None  # does `sql` read every row of `table` (pg_stat_get_xact_numscans grows)?
    fails: str | None = None  # the claim is that PostgreSQL refuses `sql` with this error text


class Rule:
    id: ClassVar[str] = ""
    kind: ClassVar[str] = CATALOGUE
    severity: ClassVar[str] = "error"
    summary: ClassVar[str] = ""  # one line for listings
    why: ClassVar[str] = ""  # the "why" field of a finding
    lock_checks: ClassVar[tuple[LockCheck, ...]] = ()
    kinds: ClassVar[frozenset[str] | None] = None  # statement kinds `check` looks at (None: all)
    sql_files: ClassVar[bool] = True  # False: only Alembic revisions can break it (an autocommit block)

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        return iter(())

    @classmethod
    def docs(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def sections(cls) -> dict[str, str]:
        """The docstring split by its section headers."""
        out: dict[str, str] = {}
        current: str | None = None
        lines: list[str] = []
        for line in cls.docs().splitlines():
            header = line.rstrip(":").strip()
            if header in SECTIONS and line.rstrip().endswith(":"):
                if current:
                    out[current] = "\n".join(lines).strip()
                current, lines = header, []
            elif current:
                lines.append(line)
        if current:
            out[current] = "\n".join(lines).strip()
        return out
