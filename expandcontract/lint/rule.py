"""The Rule protocol. A rule is a class in its own module under lint/rules/: its docstring is its
documentation (What it does / Why is this bad? / Example / Use instead), its class attributes are its
metadata, and `check` is a pure function of one statement and the lint context."""

from __future__ import annotations

from expandcontract.lint.context import LintContext
from expandcontract.record import Record
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import ClassVar

CATALOGUE = "catalogue"
PHASE = "phase"
GRAPH = "graph"
META = "meta"

SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead")


class Hit(Record):
    """What a rule found in one statement; the engine adds path, position, severity and phase."""

    __slots__ = ("fix", "lock", "message", "pending_on", "table")

    def __init__(
        self,
        message: str,
        fix: list[str] | None = None,
        table: str | None = None,
        lock: str | None = None,
        pending_on: tuple[str, str] | None = None,  # (table, column): a finding only if this change backfills it
    ) -> None:
        self.message = message
        self.fix = fix if fix is not None else []
        self.table = table
        self.lock = lock
        self.pending_on = pending_on


class LockCheck(Record):
    """A lock/rewrite claim, executed on a real PostgreSQL by tests/lint/test_lock_facts.py: run `setup`,
    then `sql` in a transaction, read pg_locks on `table` before commit, and compare its relfilenode
    before and after."""

    __slots__ = (
        "fails",
        "fails_in_transaction",
        "in_transaction",
        "lock",
        "max_version",
        "min_version",
        "rewrite",
        "scan",
        "setup",
        "sql",
        "table",
    )

    def __init__(
        self,
        setup: str,
        sql: str,
        table: str,
        lock: str | None,  # strongest mode expected on `table` (None: not checked)
        rewrite: bool | None = None,
        min_version: int = 10,
        max_version: int = 99,
        fails_in_transaction: bool = False,  # the claim is that PostgreSQL refuses `sql` inside a transaction
        in_transaction: bool = True,  # False: statements that cannot run in a transaction (rewrite only)
        scan: bool | None = None,  # does `sql` read every row of `table` (pg_stat_get_xact_numscans grows)?
        fails: str | None = None,  # the claim is that PostgreSQL refuses `sql` with this error text
    ) -> None:
        self.setup = setup
        self.sql = sql
        self.table = table
        self.lock = lock
        self.rewrite = rewrite
        self.min_version = min_version
        self.max_version = max_version
        self.fails_in_transaction = fails_in_transaction
        self.in_transaction = in_transaction
        self.scan = scan
        self.fails = fails


class Rule:
    id: ClassVar[str] = ""
    kind: ClassVar[str] = CATALOGUE
    severity: ClassVar[str] = "error"
    summary: ClassVar[str] = ""  # one line for listings
    why: ClassVar[str] = ""  # the "why" field of a finding
    lock_checks: ClassVar[tuple[LockCheck, ...]] = ()
    # Statement kinds `check` looks at (None: all), e.g. "DropStmt". ALTER TABLE can be narrowed to the
    # subcommands `check` reacts to, "AlterTableStmt.AT_AddColumn": the rule then runs only for an ALTER
    # TABLE with such a subcommand (most ALTER TABLE rules care about one or two of its dozens of
    # subtypes). A bare "AlterTableStmt" gets every ALTER TABLE: for a rule that reads the statement as a
    # whole, or a subtype it cannot name in advance.
    kinds: ClassVar[frozenset[str] | None] = None
    sql_files: ClassVar[bool] = True  # False: only Alembic revisions can break it (an autocommit block)

    def check(self, stmt: Statement, ctx: LintContext) -> Iterator[Hit]:
        return iter(())

    @classmethod
    def docs(cls) -> str:
        import inspect  # docs only: the lint itself never reads them

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
