"""What a rule sees besides the statement: the migration's state so far (tables it created, locks its
open transaction holds, constraints it added NOT VALID), the prior schema, the phase, the pg version, and
whether fixes are written as Alembic ops or as SQL."""

from __future__ import annotations

from dataclasses import dataclass, field

from expandcontract.lint.finding import Finding
from expandcontract.sql.nodes import TypeSpec, display
from expandcontract.sql.schema import SchemaModel


@dataclass
class MigrationState:
    """Facts about the migration being linted, updated after every statement."""

    new_tables: set[str] = field(default_factory=set)
    new_indexes: dict[str, str] = field(default_factory=dict)  # index -> table
    in_transaction: bool = True
    txn_locks: dict[str, str] = field(default_factory=dict)  # table -> blocking mode taken in this txn
    txn_not_valid: set[tuple[str, str]] = field(default_factory=set)  # (table, constraint)
    new_columns: set[tuple[str, str]] = field(default_factory=set)
    unfilled_columns: set[tuple[str, str]] = field(default_factory=set)  # added with no default: NULL in old rows
    backfilled: set[tuple[str, str]] = field(default_factory=set)  # set for every row (UPDATE without WHERE)
    statements: int = 0  # statements rendered so far in this migration (transaction control excluded)
    autocommit_blocks: int = 0  # autocommit blocks entered so far

    def end_transaction(self) -> None:
        self.txn_locks.clear()
        self.txn_not_valid.clear()


@dataclass
class ChangeState:
    """Facts about one change (expand -> migrate -> contract) that later revisions of it need: the
    columns its expand added without a default, and what its migrate backfilled so far."""

    unfilled_columns: set[tuple[str, str]] = field(default_factory=set)
    backfilled: set[tuple[str, str]] = field(default_factory=set)
    pending: dict[tuple[str, str], list[Finding]] = field(default_factory=dict)  # findings due if backfilled


@dataclass
class LintContext:
    pg_version: int = 17
    phase: str | None = None  # None: unphased (catalogue rules only)
    change_has_expand: bool = False  # contract revisions: destructive ops are the point there
    change: str | None = None  # the revision's ec_change
    alembic: bool = False  # write fixes as Alembic ops (revisions) or SQL (.sql files)
    schema: SchemaModel = field(default_factory=SchemaModel)
    state: MigrationState = field(default_factory=MigrationState)
    existing_types: dict[tuple[str, str], TypeSpec] = field(default_factory=dict)  # from alter_column ops
    op_name: str | None = None  # the Alembic op that rendered the statement
    op_table: str | None = None  # the table the Alembic op names (drop_index table_name=...)
    existing_not_null: set[tuple[str, str]] = field(default_factory=set)  # alter_column existing_nullable=False
    direction: str = "upgrade"  # "downgrade": a revision's downgrade(), run against the upgraded schema
    change_state: ChangeState = field(default_factory=ChangeState)

    def existing(self, table: str) -> bool:
        """Existing = not created earlier in this migration (clients can see it)."""
        return bool(table) and table not in self.state.new_tables

    def not_null_known(self, table: str, column: str) -> bool:
        """The column is already NOT NULL (op's existing_nullable=False, --schema, or earlier DDL)."""
        return (table, column) in self.existing_not_null or (table, column) in self.schema.not_null

    def unfilled(self, table: str, column: str) -> bool:
        """Rows already in the table hold NULL in this column: it was added without a default by this
        migration or this change, and nothing has set it for every row since."""
        key = (table, column)
        if key in self.state.backfilled or key in self.change_state.backfilled:
            return False
        return key in self.state.unfilled_columns or key in self.change_state.unfilled_columns

    def column_type(self, table: str, column: str) -> TypeSpec | None:
        known = self.existing_types.get((table, column))
        return known or self.schema.column_type(table, column)

    @property
    def destructive_allowed(self) -> bool:
        return self.phase == "contract" and self.change_has_expand

    @property
    def phased(self) -> bool:
        return self.phase is not None


def q(name: str) -> str:
    """A name ready to paste into SQL."""
    return display(name)


def s(name: str) -> str:
    """A name ready to paste into Python (Alembic ops take the table without its schema)."""
    return repr(name.split(".")[-1]).replace("'", '"')


def lit(text: str) -> str:
    """Any text as a double-quoted Python string literal (SQL expressions inside Alembic fixes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
