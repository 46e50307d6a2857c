"""What a rule sees besides the statement: the migration's state so far (tables it created, locks its
open transaction holds, constraints it added NOT VALID), the prior schema, the phase, the pg version, and
whether fixes are written as Alembic ops or as SQL."""

from __future__ import annotations

from expandcontract.lint.finding import Finding
from expandcontract.record import Record
from expandcontract.sql.nodes import TypeSpec, display
from expandcontract.sql.schema import SchemaModel


class MigrationState(Record):
    """Facts about the migration being linted, updated after every statement."""

    __slots__ = (
        "autocommit_blocks",
        "backfilled",
        "in_transaction",
        "new_columns",
        "new_indexes",
        "new_tables",
        "statements",
        "txn_locks",
        "txn_not_valid",
        "unfilled_columns",
    )

    def __init__(self, in_transaction: bool = True) -> None:
        self.new_tables: set[str] = set()
        self.new_indexes: dict[str, str] = {}  # index -> table
        self.in_transaction = in_transaction
        self.txn_locks: dict[str, str] = {}  # table -> blocking mode taken in this txn
        self.txn_not_valid: set[tuple[str, str]] = set()  # (table, constraint)
        self.new_columns: set[tuple[str, str]] = set()
        self.unfilled_columns: set[tuple[str, str]] = set()  # added with no default: NULL in old rows
        self.backfilled: set[tuple[str, str]] = set()  # set for every row (UPDATE without WHERE)
        self.statements = 0  # statements rendered so far in this migration (transaction control excluded)
        self.autocommit_blocks = 0  # autocommit blocks entered so far

    def end_transaction(self) -> None:
        self.txn_locks.clear()
        self.txn_not_valid.clear()


class ChangeState(Record):
    """Facts about one change (expand -> migrate -> contract) that later revisions of it need: the
    columns its expand added without a default, and what its migrate backfilled so far."""

    __slots__ = ("backfilled", "pending", "unfilled_columns")

    def __init__(self) -> None:
        self.unfilled_columns: set[tuple[str, str]] = set()
        self.backfilled: set[tuple[str, str]] = set()
        self.pending: dict[tuple[str, str], list[Finding]] = {}  # findings due if backfilled


class LintContext(Record):
    __slots__ = (
        "alembic",
        "change",
        "change_has_expand",
        "change_state",
        "direction",
        "existing_not_null",
        "existing_types",
        "op_name",
        "op_table",
        "pg_version",
        "phase",
        "schema",
        "state",
    )

    def __init__(
        self,
        pg_version: int = 17,
        phase: str | None = None,  # None: unphased (catalogue rules only)
        change_has_expand: bool = False,  # contract revisions: destructive ops are the point there
        change: str | None = None,  # the revision's ec_change
        alembic: bool = False,  # write fixes as Alembic ops (revisions) or SQL (.sql files)
        schema: SchemaModel | None = None,
        state: MigrationState | None = None,
        existing_types: dict[tuple[str, str], TypeSpec] | None = None,  # from alter_column ops
        op_name: str | None = None,  # the Alembic op that rendered the statement
        op_table: str | None = None,  # the table the Alembic op names (drop_index table_name=...)
        existing_not_null: set[tuple[str, str]] | None = None,  # alter_column existing_nullable=False
        direction: str = "upgrade",  # "downgrade": a revision's downgrade(), run against the upgraded schema
        change_state: ChangeState | None = None,
    ) -> None:
        self.pg_version = pg_version
        self.phase = phase
        self.change_has_expand = change_has_expand
        self.change = change
        self.alembic = alembic
        self.schema = schema if schema is not None else SchemaModel()
        self.state = state if state is not None else MigrationState()
        self.existing_types = existing_types if existing_types is not None else {}
        self.op_name = op_name
        self.op_table = op_table
        self.existing_not_null = existing_not_null if existing_not_null is not None else set()
        self.direction = direction
        self.change_state = change_state if change_state is not None else ChangeState()

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
