"""The live schema a recipe reads: tables, columns and everything attached to a column, as plain data.

Filled by `introspect.read_catalog` from pg_catalog (at the project's heads, see live.py); recipes only
read it, so they stay pure functions of this data. Names are as PostgreSQL stores them (unquoted);
`Table.display` is how messages and generated code name a table (`users`, `billing.invoices`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from expandcontract.errors import UsageError


class Refused(UsageError):
    """A recipe cannot do what was asked safely (exit 2); the message names what is in the way."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # format_type(): `integer`, `character varying(20)`, `numeric(12,2)`
    not_null: bool = False
    default: str | None = None  # pg_get_expr() of the default
    identity: str | None = None  # 'a' (ALWAYS) | 'd' (BY DEFAULT)
    generated: str | None = None  # 's' (STORED) | 'v' (VIRTUAL)
    collation: str | None = None  # only when it differs from the type's default
    comment: str | None = None
    has_acl: bool = False  # column-level privileges


@dataclass(frozen=True)
class Index:
    """An index that no constraint owns (those are `Constraint.index`)."""

    name: str
    definition: str  # pg_get_indexdef()
    columns: tuple[str, ...]  # every column it uses: keys, INCLUDE, expressions, predicate
    unique: bool = False
    valid: bool = True


@dataclass(frozen=True)
class Constraint:
    name: str
    kind: str  # 'p' primary key, 'u' unique, 'f' foreign key, 'c' check, 'x' exclusion
    definition: str  # pg_get_constraintdef()
    columns: tuple[str, ...]  # conkey; for a check, the columns its expression uses
    validated: bool = True
    index: str | None = None  # the index a primary key / unique / exclusion constraint owns
    ref_table: str | None = None  # foreign key: referenced table (display name)
    ref_columns: tuple[str, ...] = ()
    deferrable: bool = False


@dataclass(frozen=True)
class ForeignKeyIn:
    """A foreign key of another table (or this one) that references columns of this table."""

    table: str  # display name of the referencing table
    constraint: Constraint


@dataclass(frozen=True)
class Sequence:
    name: str  # display name
    type: str
    start: int
    increment: int
    min: int
    max: int
    cache: int
    cycle: bool
    column: str  # the column that owns it
    identity: bool  # an identity column's internal sequence (else serial / OWNED BY)


@dataclass(frozen=True)
class Dependent:
    """Something outside our reach that uses a column: a view, a policy, a trigger, statistics..."""

    kind: str  # 'view' | 'policy' | 'trigger' | 'statistics' | 'generated column' | 'rule' | 'other'
    description: str  # pg_describe_object(), e.g. "view active_users"


@dataclass
class Table:
    schema: str
    name: str
    kind: str = "r"  # 'r' table, 'p' partitioned
    inherited: bool = False  # a partition or an inheritance child, or has children
    columns: dict[str, Column] = field(default_factory=dict)  # in attnum order
    indexes: list[Index] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    incoming: list[ForeignKeyIn] = field(default_factory=list)
    sequences: list[Sequence] = field(default_factory=list)
    dependents: dict[str, list[Dependent]] = field(default_factory=dict)  # column -> outside users
    triggers: set[str] = field(default_factory=set)

    @property
    def display(self) -> str:
        return self.name if self.schema == "public" else f"{self.schema}.{self.name}"

    def column(self, name: str) -> Column:
        if name not in self.columns:
            known = ", ".join(self.columns) or "none"
            raise Refused(f"table {self.display} has no column {name!r} (its columns: {known})")
        return self.columns[name]

    def primary_key(self) -> Constraint | None:
        return next((c for c in self.constraints if c.kind == "p"), None)

    def constraints_on(self, column: str) -> list[Constraint]:
        return [c for c in self.constraints if column in c.columns]

    def indexes_on(self, column: str) -> list[Index]:
        return [i for i in self.indexes if column in i.columns]

    def incoming_on(self, column: str) -> list[ForeignKeyIn]:
        return [f for f in self.incoming if column in f.constraint.ref_columns]

    def sequence_of(self, column: str) -> Sequence | None:
        return next((s for s in self.sequences if s.column == column), None)


@dataclass
class Catalog:
    server_version: int  # server_version_num, e.g. 180006
    search_path: tuple[str, ...] = ("public",)
    tables: dict[tuple[str, str], Table] = field(default_factory=dict)  # (schema, name)
    relations: set[tuple[str, str]] = field(default_factory=set)  # every relation name: tables, indexes, ...
    functions: set[tuple[str, str]] = field(default_factory=set)
    constraint_names: set[tuple[str, str]] = field(default_factory=set)  # (table display, name)

    def find(self, name: str) -> Table | None:
        if "." in name:
            schema, _, table = name.partition(".")
            return self.tables.get((schema, table))
        for schema in self.search_path:
            if (schema, name) in self.tables:
                return self.tables[(schema, name)]
        return None

    def table(self, name: str) -> Table:
        found = self.find(name)
        if found is None:
            known = ", ".join(sorted(t.display for t in self.tables.values())) or "none"
            raise Refused(f"no table {name!r} in the schema at the project's heads (tables: {known})")
        return found

    def relation_exists(self, schema: str, name: str) -> bool:
        return (schema, name) in self.relations

    def function_exists(self, schema: str, name: str) -> bool:
        return (schema, name) in self.functions


def split_column(arg: str, what: str = "TABLE.COLUMN") -> tuple[str, str]:
    """`users.name` -> ("users", "name"); `billing.invoices.total` -> ("billing.invoices", "total")."""
    table, dot, column = arg.rpartition(".")
    if not dot or not table or not column:
        raise UsageError(f"{arg!r} is not {what}; write it as table.column (or schema.table.column)")
    return table, column
