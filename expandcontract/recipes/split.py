"""Alembic's differences between the models and the schema at heads, as recipes and safe plain ops.

`Split` is a `process_revision_directives` hook: it reads the one MigrationScript Alembic's comparison
produced and turns its operations into recipes (a rename, a type change, a column that becomes NOT NULL,
a new column with a default or NOT NULL, a dropped column, a foreign key, a unique constraint) and plain
operations as Alembic renders them: additive ones for the expand (new tables, nullable columns, comments,
defaults, indexes, the latter CONCURRENTLY in an autocommit block via Alembic's Rewriter), destructive
ones for the contract (dropped tables, indexes, constraints). Then it empties the directives: the change
is written by `new`, as three revisions.

A dropped and an added column of one table with the same type may be a rename: only `--rename
TABLE.OLD:NEW` (or a yes on a TTY) says so; otherwise they are refused (exit 2) with the candidates named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alembic.autogenerate.rewriter import Rewriter
from alembic.operations import ops
from sqlalchemy.dialects import postgresql

from expandcontract.errors import UsageError
from expandcontract.recipes.add_column import AddColumn
from expandcontract.recipes.add_foreign_key import AddForeignKey
from expandcontract.recipes.add_unique import AddUnique
from expandcontract.recipes.base import Recipe
from expandcontract.recipes.catalog import Catalog, Refused
from expandcontract.recipes.change_type import ChangeType
from expandcontract.recipes.drop_column import DropColumn
from expandcontract.recipes.rename_column import RenameColumn
from expandcontract.recipes.set_not_null import SetNotNull
from expandcontract.sql.nodes import parse_type

Ask = Callable[[str], bool]

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


@dataclass
class Plain:
    """An Alembic operation kept as Alembic writes it, with its reverse, in the phase it belongs to."""

    phase: str  # "expand" | "contract"
    op: ops.MigrateOperation
    autocommit: bool = False  # CONCURRENTLY: outside the revision's transaction
    lossy: bool = False  # its downgrade cannot bring the data back (a dropped table)


@dataclass
class Result:
    recipes: list[Recipe] = field(default_factory=list)
    plain: list[Plain] = field(default_factory=list)


def safe_rewriter() -> Rewriter:
    """Alembic's Rewriter: indexes are built and dropped CONCURRENTLY (in an autocommit block)."""
    writer = Rewriter()

    @writer.rewrites(ops.CreateIndexOp)
    def create_index(context: Any, revision: Any, op: ops.CreateIndexOp) -> ops.CreateIndexOp:
        op.kw["postgresql_concurrently"] = True
        return op

    @writer.rewrites(ops.DropIndexOp)
    def drop_index(context: Any, revision: Any, op: ops.DropIndexOp) -> ops.DropIndexOp:
        op.kw["postgresql_concurrently"] = True
        return op

    return writer


def type_sql(type_: Any) -> str:
    return str(type_.compile(dialect=_DIALECT)).lower()


def default_sql(default: Any) -> str | None:
    """A model's server_default as SQL: a string is a literal, text()/func/false() render as written."""
    if default is None:
        return None
    arg = getattr(default, "arg", default)
    if isinstance(arg, str):
        return "'" + arg.replace("'", "''") + "'"
    return str(arg.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True}))


def _name(schema: str | None, table: str) -> str:
    return f"{schema}.{table}" if schema and schema != "public" else table


class Split:
    """The hook: `Split(catalog, renames, ask)(context, revision, directives)`; the result in `.result`."""

    def __init__(self, catalog: Catalog, renames: tuple[str, ...], ask: Ask | None) -> None:
        self.catalog = catalog
        self.renames = dict(_parse_rename(r) for r in renames)
        self.used: set[tuple[str, str]] = set()
        self.ask = ask
        self.result = Result()

    def __call__(self, context: Any, revision: Any, directives: list[Any]) -> None:
        for script in directives:
            for upgrade in script.upgrade_ops_list:
                for op in upgrade.ops:
                    self._top(op)
        unused = set(self.renames) - self.used
        if unused:
            table, old = sorted(unused)[0]
            raise Refused(
                f"--rename {table}.{old}:{self.renames[(table, old)]}: the models do not drop {table}.{old} and add "
                f"{self.renames[(table, old)]} (autogenerate found no such pair)"
            )
        directives[:] = []  # `new` writes the change, as three revisions

    def _top(self, op: ops.MigrateOperation) -> None:
        if isinstance(op, ops.ModifyTableOps):
            self._table(_name(op.schema, op.table_name), op.ops)
        elif isinstance(op, ops.CreateTableOp | ops.CreateIndexOp | ops.CreateTableCommentOp):
            self.result.plain.append(Plain("expand", op, autocommit=isinstance(op, ops.CreateIndexOp)))
        elif isinstance(op, ops.DropTableOp):
            self.result.plain.append(Plain("contract", op, lossy=True))
        elif isinstance(op, ops.DropIndexOp):
            self.result.plain.append(Plain("contract", op, autocommit=True))
        else:
            raise Refused(f"autogenerate found {type(op).__name__}, which no recipe writes safely; write it by hand")

    def _table(self, table: str, table_ops: list[ops.MigrateOperation]) -> None:
        drops = {o.column_name: o for o in table_ops if isinstance(o, ops.DropColumnOp)}
        adds = {o.column.name: o for o in table_ops if isinstance(o, ops.AddColumnOp)}
        for old, new in self._pairs(table, drops, adds):
            self.result.recipes.append(RenameColumn(f"{table}.{old}", new))
            del drops[old], adds[new]
        for op in table_ops:
            if isinstance(op, ops.AddColumnOp) and op.column.name in adds:
                self._add(table, op)
            elif isinstance(op, ops.DropColumnOp) and op.column_name in drops:
                self.result.recipes.append(DropColumn(f"{table}.{op.column_name}"))
            elif isinstance(op, ops.AlterColumnOp):
                self._alter(table, op)
            elif isinstance(op, ops.CreateIndexOp):
                self.result.plain.append(Plain("expand", op, autocommit=True))
            elif isinstance(op, ops.DropIndexOp):
                self.result.plain.append(Plain("contract", op, autocommit=True))
            elif isinstance(op, ops.CreateForeignKeyOp):
                self._foreign_key(table, op)
            elif isinstance(op, ops.CreateUniqueConstraintOp):
                self.result.recipes.append(
                    AddUnique(f"{table}.{','.join(op.columns)}", name=_given(op.constraint_name))
                )
            elif isinstance(op, ops.DropConstraintOp):
                self.result.plain.append(Plain("contract", op))
            elif isinstance(op, ops.CreateTableCommentOp | ops.DropTableCommentOp):
                self.result.plain.append(Plain("expand", op))
            elif not isinstance(op, ops.AddColumnOp | ops.DropColumnOp):
                raise Refused(
                    f"autogenerate found {type(op).__name__} on {table}, which no recipe writes safely; "
                    "write it by hand"
                )

    def _pairs(self, table: str, drops: dict[str, Any], adds: dict[str, Any]) -> list[tuple[str, str]]:
        """Renames: the hinted pairs, and the candidates (same table, same type) answered yes on a TTY."""
        found: list[tuple[str, str]] = []
        for old in list(drops):
            hint = self.renames.get((table, old))
            if hint is not None:
                if hint not in adds:
                    raise Refused(f"--rename {table}.{old}:{hint}: the models add no column {hint!r} to {table}")
                self._same_column(table, old, adds[hint].column)
                self.used.add((table, old))
                found.append((old, hint))
        taken = {o for o, _ in found} | {n for _, n in found}
        candidates = [
            (old, new)
            for old in drops
            for new, add in adds.items()
            if old not in taken and new not in taken and self._same_type(table, old, add.column)
        ]
        for old, new in candidates:
            if old in taken or new in taken:
                continue
            question = f"{table}: is {old} -> {new} a rename (the same data under a new name)?"
            if self.ask is None:
                listed = ", ".join(f"--rename {table}.{o}:{n}" for o, n in candidates)
                raise Refused(
                    f"{table}.{old} is dropped and {table}.{new} added with the same type: a rename or two changes? "
                    f"Say it with {listed}, or make the drop and the add separate changes"
                )
            if self.ask(question):
                found.append((old, new))
                taken |= {old, new}
        return found

    def _same_type(self, table: str, old: str, column: Any) -> bool:
        db = self.catalog.table(table).columns.get(old)
        return db is not None and parse_type(db.type) == parse_type(type_sql(column.type))

    def _same_column(self, table: str, old: str, column: Any) -> None:
        db = self.catalog.table(table).column(old)
        if not self._same_type(table, old, column):
            raise Refused(
                f"--rename {table}.{old}:{column.name}: {old} is {db.type} and {column.name} {type_sql(column.type)}; "
                "rename it in one change and change its type in another"
            )
        if db.not_null != (not column.nullable):
            raise Refused(
                f"--rename {table}.{old}:{column.name}: the model also changes NOT NULL; rename it in one change and "
                "change that in another"
            )

    def _add(self, table: str, op: ops.AddColumnOp) -> None:
        column = op.column
        target = f"{table}.{column.name}"
        default = default_sql(column.server_default)
        if column.identity is not None or (column.autoincrement is True and column.primary_key):
            raise Refused(
                f"{target} is an identity or serial column; add it by hand "
                "(see `expandcontract rule add-serial-column`)"
            )
        if column.nullable and default is None:
            self.result.plain.append(Plain("expand", op))
            return
        if not column.nullable and default is None:
            raise Refused(
                f"{target} is NOT NULL without a server_default in the model: the existing rows and the old release's "
                f"INSERTs would have no value. Give it a server_default, or use --add-column {target} "
                f"{type_sql(column.type)} --default SQL --not-null"
            )
        self.result.recipes.append(
            AddColumn(target, type_sql(column.type), default=default, not_null=not column.nullable)
        )

    def _alter(self, table: str, op: ops.AlterColumnOp) -> None:
        target = f"{table}.{op.column_name}"
        if op.modify_type is not None and op.modify_nullable is not None:
            raise Refused(f"{target}: the models change both its type and NOT NULL; make them two changes")
        if op.modify_type is not None:
            self.result.recipes.append(ChangeType(target, type_sql(op.modify_type)))
            return
        if op.modify_nullable is False:
            default = default_sql(op.modify_server_default) if op.modify_server_default not in (None, False) else None
            existing = (
                default_sql(op.existing_server_default) if op.existing_server_default not in (None, False) else None
            )
            fill = default or existing
            if fill is None:
                raise Refused(
                    f"{target} becomes NOT NULL but the model gives it no server_default to fill the existing NULLs "
                    f"with; use --set-not-null {target} --fill SQL_EXPR"
                )
            self.result.recipes.append(SetNotNull(target, fill=fill, set_default=default))
            return
        self.result.plain.append(Plain("expand", op))  # DROP NOT NULL, a default, a comment: no scan

    def _foreign_key(self, table: str, op: ops.CreateForeignKeyOp) -> None:
        if len(op.local_cols) != 1:
            raise Refused(f"{table}: a foreign key over {len(op.local_cols)} columns; write it by hand")
        ref = _name(op.kw.get("referent_schema"), op.referent_table)
        self.result.recipes.append(
            AddForeignKey(f"{table}.{op.local_cols[0]}", f"{ref}.{op.remote_cols[0]}", name=_given(op.constraint_name))
        )


def _given(name: Any) -> str | None:
    """A constraint name the model gives (SQLAlchemy's `_NONE_NAME` and None: let PostgreSQL's rule name it)."""
    return name if isinstance(name, str) and name else None


def _parse_rename(value: str) -> tuple[tuple[str, str], str]:
    left, colon, new = value.partition(":")
    table, dot, old = left.rpartition(".")
    if not colon or not dot or not table or not old or not new:
        raise UsageError(f"--rename {value!r}: write it as TABLE.OLD:NEW, e.g. users.name:full_name")
    return (table, old), new
