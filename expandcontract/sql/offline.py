"""The database a revision sees while the linter renders it offline.

Alembic's own offline mode (`alembic upgrade --sql`) hands revision code a `MockConnection`: executing
through it writes SQL, but it returns None, cannot be inspected, cannot start an ORM session, and has no
`close`. Real revisions (superset's helpers, airflow's column types) do all of that, so one such call
used to abort the rest of the revision. `OfflineBind` stands in for it: statements executed through it
are written to the output like `op.execute`, reads return no rows (and are noted: what the revision
does with those rows is not seen), `sqlalchemy.inspect(bind)` answers from the schema the linter has
followed so far (`SchemaModel`), ORM queries return no rows, and nothing it does raises, so a call that
needs the database degrades alone instead of taking the rest of the revision with it.

Works with SQLAlchemy 1.4 and 2.x (the lint path runs in the user's environment).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

from expandcontract.sql.schema import SchemaModel

Note = Callable[[str], None]  # records a not-analysable message at the revision line that caused it


def _none(*_: Any, **__: Any) -> None:
    return None


def _empty(*_: Any, **__: Any) -> list[Any]:
    return []


class _Rows:
    """A result with no rows: what a read returns offline. An aggregate over no rows still returns one
    row (`count(*)` = 0, `max(...)` = NULL), as PostgreSQL does."""

    def __init__(self, row: tuple[Any, ...] | None = None, inserted: Any = None, count: int = 1) -> None:
        self._row = row
        if inserted is not None:  # an INSERT: what the ORM's flush reads back (a made-up key per row)
            pk = tuple(1 for _ in getattr(inserted, "primary_key", ())) or (1,)
            self.inserted_primary_key = pk
            self.inserted_primary_key_rows = [pk] * count
            self.returned_defaults = self.returned_defaults_rows = None
            self.rowcount = count
            compiled = SimpleNamespace(prefetch=[], postfetch=[], returning=[], effective_returning=[])
            self.context = SimpleNamespace(
                compiled_parameters=[{}] * count, executemany=count > 1, isinsert=True, compiled=compiled
            )

    rowcount = 0
    returns_rows = True
    inserted_primary_key: Any = None
    lastrowid = None
    close = __exit__ = _none
    keys = _empty

    def __iter__(self) -> Iterator[Any]:
        return iter([self._row] if self._row is not None else ())

    def fetchall(self, *_: Any) -> list[Any]:
        return list(self)

    fetchmany = all = fetchall

    def fetchone(self) -> Any:
        return self._row

    first = one_or_none = fetchone

    def scalar(self) -> Any:
        return self._row[0] if self._row else None

    scalar_one_or_none = scalar_one = scalar

    def partitions(self, *_: Any) -> Iterator[Any]:
        return iter(())

    def _self(self, *_: Any) -> _Rows:
        return self

    scalars = mappings = unique = __enter__ = _self


class _Transaction:
    is_active = True
    commit = rollback = close = __exit__ = _none

    def __enter__(self) -> _Transaction:
        return self


def _plain_dml(construct: Any) -> bool:
    """An INSERT/UPDATE without WHERE, whose execute() parameters are the values it writes."""
    dml = getattr(construct, "is_dml", False) and hasattr(construct, "values")
    return bool(dml) and not getattr(construct, "_where_criteria", ())


def _returns_rows(construct: Any) -> bool:
    if isinstance(construct, str):
        return construct.lstrip().lower().startswith(("select", "with", "show", "values", "table"))
    if getattr(construct, "is_select", False) or getattr(construct, "_returning", None):
        return True
    text = getattr(construct, "text", None)
    return isinstance(text, str) and _returns_rows(text)


class OfflineBind:
    """The `bind` (`op.get_bind()`, `context.get_bind()`) while a revision is rendered offline."""

    _ec_offline = True

    def __init__(self, migration_context: Any, schema: SchemaModel, note: Note) -> None:
        self._ctx = migration_context
        self.dialect = migration_context.dialect
        self.schema = schema
        self.note = note
        self.info: dict[str, Any] = {}
        self.closed = False
        self.name = self.dialect.name

    # -- Connection / Engine surface ------------------------------------------------------------------
    @property
    def engine(self) -> OfflineBind:
        return self

    @property
    def url(self) -> str:
        return "postgresql://offline"

    def connect(self, *_: Any, **__: Any) -> OfflineBind:
        return self

    def execution_options(self, *_: Any, **__: Any) -> OfflineBind:
        return self

    def get_execution_options(self) -> dict[str, Any]:
        return {}

    def begin(self) -> _Transaction:
        return _Transaction()

    begin_nested = begin

    def in_transaction(self) -> bool:
        return False

    in_nested_transaction = in_transaction

    def get_isolation_level(self) -> str:
        return "READ COMMITTED"

    commit = rollback = close = dispose = invalidate = __exit__ = _none

    def schema_for_object(self, obj: Any) -> Any:
        return getattr(obj, "schema", None)

    def __enter__(self) -> OfflineBind:
        return self

    # -- executing --------------------------------------------------------------------------------------
    def execute(self, construct: Any, *multiparams: Any, **params: Any) -> _Rows:
        """Write the statement to the output (as `op.execute` would); never raise."""
        params.pop("execution_options", None)
        reads = _returns_rows(construct)
        args = [m for m in multiparams if m]
        count = 1
        if args and isinstance(args[0], list | tuple):
            count = len(args[0])
            args = [args[0][0]] if args[0] else []  # many parameter sets: the statement's shape is the same
        values = {**(args[0] if args and isinstance(args[0], dict) else {}), **params}
        try:
            if values:
                from sqlalchemy import text
                from sqlalchemy.sql.elements import TextClause

                if isinstance(construct, str):
                    construct = text(construct)
                if isinstance(construct, TextClause):  # bindparams types each value (params() would not)
                    construct = construct.bindparams(**{k: v for k, v in values.items() if k in construct._bindparams})
                elif (
                    getattr(construct, "is_dml", False)
                    and hasattr(construct, "values")
                    and not getattr(construct, "_where_criteria", ())
                ):
                    construct = construct.values(values)  # execute(table.insert(), {...}): the values to write
                elif hasattr(construct, "params"):
                    construct = construct.params(values)
            self._ctx.impl._exec(construct)
        except Exception as exc:
            self.note(f"this statement cannot be rendered offline ({type(exc).__name__}: {_first_line(exc)})")
            failed = True
        else:
            failed = False
        if getattr(construct, "is_insert", False):
            return _Rows(inserted=getattr(construct, "table", None), count=count)
        row = aggregate_row(construct)
        if reads and row is None and not failed:
            self.note(
                "this reads rows at run time (offline there are none); what the revision does with them is not seen"
            )
        return _Rows(row)

    exec_driver_sql = execute

    def _execute_20(self, construct: Any, parameters: Any = None, execution_options: Any = None) -> _Rows:
        return self.execute(construct, parameters) if parameters else self.execute(construct)  # SQLAlchemy 1.4

    def scalar(self, construct: Any, *args: Any, **kwargs: Any) -> None:
        self.execute(construct, *args, **kwargs)
        return None

    def scalars(self, construct: Any, *args: Any, **kwargs: Any) -> _Rows:
        return self.execute(construct, *args, **kwargs)

    def _run_ddl_visitor(self, visitorcallable: Any, element: Any, **kwargs: Any) -> None:
        """`metadata.create_all(bind)` / `table.create(bind)`: render the DDL without checking first."""
        kwargs["checkfirst"] = False
        visitorcallable(self.dialect, self, **kwargs).traverse_single(element)

    def _execute_ddl(self, ddl: Any, *_: Any, **__: Any) -> _Rows:  # SQLAlchemy 1.4's DDL visitor
        return self.execute(ddl)


_AGGREGATES = {"count": 0, "sum": None, "max": None, "min": None, "avg": None}


def aggregate_row(construct: Any) -> tuple[Any, ...] | None:
    """The one row an aggregate-only SELECT returns over an empty table (None: not such a SELECT)."""
    columns = getattr(construct, "selected_columns", None)
    if not getattr(construct, "is_select", False) or columns is None or not len(columns):
        return None
    row = []
    for col in columns:
        fn = getattr(col, "element", col)
        name = str(getattr(fn, "name", "")).lower()
        if name not in _AGGREGATES or not hasattr(fn, "clauses"):
            return None
        row.append(_AGGREGATES[name])
    return tuple(row)


def retyped(construct: Any) -> Any:
    """Bound values of untyped columns (`sa.column("status")`) typed from their Python values, so they
    render as literals offline instead of failing with "No literal value renderer"."""
    from sqlalchemy.sql import elements, visitors
    from sqlalchemy.sql.sqltypes import NullType

    def replace(element: Any) -> Any:
        if isinstance(element, elements.BindParameter) and isinstance(element.type, NullType):
            return elements.BindParameter(
                element.key, element.value, unique=element.unique, expanding=element.expanding
            )
        return None

    return visitors.replacement_traverse(construct, {}, replace)  # type: ignore[call-overload]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class OfflineInspector:
    """`sqlalchemy.inspect(bind)` offline: answers from the schema the earlier revisions (and `--schema`)
    built. A table created outside the history is unknown to it (pass `--schema`)."""

    def __init__(self, bind: OfflineBind) -> None:
        self.bind = self.engine = bind
        self.dialect = bind.dialect
        self.info_cache: dict[Any, Any] = {}
        self.default_schema_name = "public"

    @property
    def _schema(self) -> SchemaModel:
        return self.bind.schema

    @staticmethod
    def _key(table: str, schema: str | None) -> str:
        return f"{schema}.{table}" if schema and schema != "public" else table

    def get_schema_names(self, **_: Any) -> list[str]:
        return sorted({"public", *(t.split(".")[0] for t in self._schema.columns if "." in t)})

    def get_table_names(self, schema: str | None = None, **_: Any) -> list[str]:
        out = []
        for name in self._schema.columns:
            owner, _dot, table = name.rpartition(".")
            if (owner or None) == (schema if schema != "public" else None):
                out.append(table)
        return sorted(out)

    def has_table(self, table_name: str, schema: str | None = None, **_: Any) -> bool:
        return self._key(table_name, schema) in self._schema.columns

    def has_index(self, table_name: str, index_name: str, schema: str | None = None, **_: Any) -> bool:
        return self._schema.indexes.get(self._key(index_name, schema)) == self._key(table_name, schema)

    def has_schema(self, schema_name: str, **_: Any) -> bool:
        return schema_name in self.get_schema_names()

    def get_columns(self, table_name: str, schema: str | None = None, **_: Any) -> list[dict[str, Any]]:
        from sqlalchemy.types import NullType

        table = self._key(table_name, schema)
        out = []
        for name, spec in self._schema.columns.get(table, {}).items():
            out.append(
                {
                    "name": name,
                    "type": _sa_type(str(spec)) or NullType(),
                    "nullable": (table, name) not in self._schema.not_null,
                    "default": None,
                    "autoincrement": False,
                    "comment": None,
                }
            )
        return out

    def get_indexes(self, table_name: str, schema: str | None = None, **_: Any) -> list[dict[str, Any]]:
        table = self._key(table_name, schema)
        return [
            {
                "name": name.rpartition(".")[2],
                "column_names": list(self._schema.index_columns.get(name, ())),
                "unique": name in self._schema.unique_indexes,
                "dialect_options": {},
            }
            for name, owner in self._schema.indexes.items()
            if owner == table
        ]

    def get_pk_constraint(self, table_name: str, schema: str | None = None, **_: Any) -> dict[str, Any]:
        pk = self._schema.primary_keys.get(self._key(table_name, schema))
        return {"name": pk[0] if pk else None, "constrained_columns": list(pk[1]) if pk else []}

    def get_foreign_keys(self, table_name: str, schema: str | None = None, **_: Any) -> list[dict[str, Any]]:
        return [dict(fk) for fk in self._schema.foreign_keys.get(self._key(table_name, schema), [])]

    def get_unique_constraints(self, table_name: str, schema: str | None = None, **_: Any) -> list[dict[str, Any]]:
        return [
            {"name": name, "column_names": list(cols)}
            for name, cols in self._schema.unique_constraints.get(self._key(table_name, schema), {}).items()
        ]

    def get_check_constraints(self, table_name: str, schema: str | None = None, **_: Any) -> list[dict[str, Any]]:
        table = self._key(table_name, schema)
        return [{"name": name, "sqltext": ""} for (t, name) in self._schema.constraints if t == table]

    def get_table_comment(self, *_: Any, **__: Any) -> dict[str, Any]:
        return {"text": None}

    def get_enums(self, *_: Any, **__: Any) -> list[dict[str, Any]]:
        return []

    def get_view_names(self, *_: Any, **__: Any) -> list[str]:
        return []

    get_materialized_view_names = get_sequence_names = get_temp_table_names = get_foreign_table_names = get_view_names

    def get_sorted_table_and_fkc_names(self, schema: str | None = None, **_: Any) -> list[tuple[str | None, list[Any]]]:
        return [(t, []) for t in self.get_table_names(schema)] + [(None, [])]

    @contextlib.contextmanager
    def _inspection_context(self) -> Iterator[OfflineInspector]:
        yield self

    def reflect_table(self, table: Any, include_columns: Any = None, *_: Any, **kw: Any) -> None:
        """`sa.Table(name, metadata, autoload_with=bind)` offline: columns, primary key and foreign keys
        (their tables reflected too) from the schema known so far."""
        import sqlalchemy as sa

        name, schema = table.name, table.schema
        for col in self.get_columns(name, schema):
            if (include_columns is None or col["name"] in include_columns) and col["name"] not in table.c:
                table.append_column(sa.Column(col["name"], col["type"], nullable=col["nullable"]))
        pk = self.get_pk_constraint(name, schema)
        if pk["constrained_columns"]:
            table.append_constraint(sa.PrimaryKeyConstraint(*pk["constrained_columns"], name=pk["name"]))
        for fk in self.get_foreign_keys(name, schema):
            ref = fk["referred_table"]
            if kw.get("resolve_fks", True) and ref and ref != name:
                referred = sa.Table(ref, table.metadata, autoload_with=self.bind, schema=fk.get("referred_schema"))  # type: ignore[call-overload]
                for col_name in fk["referred_columns"]:  # a table made outside the history: what the key names
                    if col_name not in referred.c:
                        referred.append_column(sa.Column(col_name, _sa_type("integer")))
            target = f"{fk['referred_schema']}.{ref}" if fk.get("referred_schema") else ref
            table.append_constraint(
                sa.ForeignKeyConstraint(
                    fk["constrained_columns"], [f"{target}.{c}" for c in fk["referred_columns"]], name=fk["name"]
                )
            )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("get_"):
            return lambda *_, **__: []  # any other reflection call: nothing known offline
        raise AttributeError(name)


def _sa_type(text: str) -> Any:
    from sqlalchemy import types

    base = text.split("(")[0].removesuffix("[]").strip()
    simple = {
        "integer": types.Integer,
        "bigint": types.BigInteger,
        "smallint": types.SmallInteger,
        "text": types.Text,
        "varchar": types.String,
        "boolean": types.Boolean,
        "numeric": types.Numeric,
        "timestamp": types.DateTime,
        "timestamptz": types.DateTime,
        "date": types.Date,
        "double precision": types.Float,
        "real": types.Float,
        "json": types.JSON,
        "jsonb": types.JSON,
        "uuid": types.Uuid if hasattr(types, "Uuid") else types.String,
    }
    cls = simple.get(base)
    return cls() if cls else None


@contextlib.contextmanager
def offline_hooks() -> Iterator[None]:
    """While rendering: `inspect(OfflineBind)` gives an OfflineInspector, SQLAlchemy 1.4's
    `Inspector.from_engine(bind)` too, and ORM statements on a session bound to an OfflineBind return no
    rows (writes through the ORM are rendered)."""
    from sqlalchemy import event, inspection
    from sqlalchemy.engine.reflection import Inspector
    from sqlalchemy.orm import Session

    inspection._registrars[OfflineBind] = OfflineInspector
    inspection._registrars[OfflineInspector] = True  # metadata.reflect() inspects the inspector
    original_from_engine = Inspector.__dict__.get("from_engine")

    def from_engine(cls: Any, bind: Any) -> Any:
        if isinstance(bind, OfflineBind):
            return OfflineInspector(bind)
        assert original_from_engine is not None
        return original_from_engine.__get__(None, cls)(bind)

    if original_from_engine is not None:
        Inspector.from_engine = classmethod(from_engine)  # type: ignore[method-assign,assignment]
    event.listen(Session, "do_orm_execute", _orm_execute)
    try:
        yield
    finally:
        event.remove(Session, "do_orm_execute", _orm_execute)
        if original_from_engine is not None:
            Inspector.from_engine = original_from_engine  # type: ignore[method-assign]
        inspection._registrars.pop(OfflineBind, None)
        inspection._registrars.pop(OfflineInspector, None)


def _orm_execute(state: Any) -> Any:
    bind = state.session.bind
    if not isinstance(bind, OfflineBind):
        for candidate in (state.bind_arguments or {}).values():
            if isinstance(candidate, OfflineBind):
                bind = candidate
        if not isinstance(bind, OfflineBind):
            return None
    row = aggregate_row(state.statement) if getattr(state, "is_select", False) else None
    if getattr(state, "is_select", False) and row is None:
        bind.note(
            "this ORM query reads rows at run time (offline there are none); what the revision does with them "
            "is not seen"
        )
    elif not getattr(state, "is_select", False):
        bind.execute(state.statement)
    from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData

    keys = [f"c{i}" for i in range(len(row or ()))]
    result: Any = IteratorResult(SimpleResultMetaData(keys), iter([row] if row is not None else []))
    result.rowcount = 0  # ORM bulk UPDATE/DELETE read it
    return result
