"""One traffic worker of one release: a process of its own, running what an ORM app does.

Through SQLAlchemy with the app's driver and its default settings, each operation in a committed
transaction of its own (so psycopg prepares a statement after five executions on a connection and keeps
it, as in an app): INSERT ... RETURNING with every column the release maps except those the server
fills, SELECT by key of a random existing row, UPDATE of one mapped non-key column of a random existing
row (each column in turn, seeded rows included), DELETE of a row it inserted, and the project's traffic
hook if there is one. Nothing is retried: every exception is counted against the current step with its
SQL (parameters are never recorded). Between operations it answers the rename probe's commands.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from expandcontract.errors import UsageError
from expandcontract.rehearse import spec
from expandcontract.rehearse.pools import ColumnPlan, ModelColumn, ModelTable, TablePlan

NULL_SHARE = 0.05
ERROR_SQL_CHARS = 2_000


@dataclass(frozen=True)
class Setup:
    release: str  # "old" | "new"
    index: int
    url: str  # SQLAlchemy URL (driver included) of the scratch database
    root: str  # the release's project root: models and hook are imported from there
    models: str
    hook: str | None
    seed: int
    rate: float  # operations per second at most

    @property
    def application_name(self) -> str:
        return f"ec-rehearse/{self.release}/{self.index}"


@dataclass
class StepStats:
    ops: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    failures: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (operation, sql, message) -> count


def describe(metadata: Any) -> list[ModelTable]:
    """The tables and columns a MetaData maps, as plain data the parent can use without importing it."""
    out: list[ModelTable] = []
    for table in metadata.sorted_tables:
        cols: list[ModelColumn] = []
        for c in table.columns:
            try:
                pytype = c.type.python_type.__name__
            except (NotImplementedError, AttributeError):
                pytype = ""
            fk = next(iter(c.foreign_keys), None)
            cols.append(
                ModelColumn(
                    name=c.name,
                    primary_key=bool(c.primary_key),
                    server_generated=_server_generated(table, c),
                    nullable=bool(c.nullable),
                    python_type=pytype,
                    foreign_key=(fk.column.table.fullname, fk.column.name) if fk is not None else None,
                )
            )
        out.append(ModelTable(table.fullname, cols))
    return out


class Traffic:
    """The operations of one worker, on one engine, against the tables of its plan."""

    def __init__(self, setup: Setup, metadata: Any, plans: list[TablePlan], hook: Any) -> None:
        import sqlalchemy as sa

        self.sa = sa
        self.setup = setup
        self.rng = random.Random(setup.seed)
        future = {"future": True} if int(sa.__version__.split(".")[0]) < 2 else {}  # SQLAlchemy 1.4
        self.engine = sa.create_engine(setup.url, connect_args={"application_name": setup.application_name}, **future)
        self.hook = hook
        self.tables = {t.fullname: t for t in metadata.sorted_tables}
        self.plans = [p for p in plans if p.name in self.tables]
        self.own: dict[str, list[tuple[Any, ...]]] = {p.name: [] for p in self.plans}
        self.turn: dict[str, int] = {p.name: 0 for p in self.plans}
        self.unique: dict[tuple[str, str], int] = {}
        self.written = 0
        self.stats: dict[int, StepStats] = {}

    # -- values -----------------------------------------------------------------------------------
    def value(self, plan: TablePlan, column: Any) -> Any:
        cp: ColumnPlan | None = plan.columns.get(column.name)
        if cp is not None and cp.nullable and self.rng.random() < NULL_SHARE:
            return None
        if cp is not None and cp.values:
            if cp.unique:
                i = self.unique.get((plan.name, column.name), 0)
                self.unique[(plan.name, column.name)] = i + 1
                if i < len(cp.values):
                    return cp.values[i]
            else:
                value = self.rng.choice(cp.values)
                if cp.free_text and isinstance(value, str):
                    self.written += 1
                    return f"{value}-{self.setup.seed}.{self.written}"
                return value
        return fallback(column, self.rng)

    # -- one operation ----------------------------------------------------------------------------
    def where(self, table: Any, plan: TablePlan, key: tuple[Any, ...]) -> Any:
        cols = [table.c[k] for k in plan.key]
        return self.sa.and_(*[c == v for c, v in zip(cols, key, strict=True)])

    def pick_key(self, plan: TablePlan) -> tuple[Any, ...] | None:
        own = self.own[plan.name]
        n = len(plan.keys) + len(own)
        if not n:
            return None
        i = self.rng.randrange(n)
        return plan.keys[i] if i < len(plan.keys) else own[i - len(plan.keys)]

    def statement(self) -> tuple[str, str, Any]:
        """(operation, table, statement or hook) for the next operation."""
        sa = self.sa
        choices = len(self.plans) + (1 if self.hook is not None else 0)
        i = self.rng.randrange(choices) if choices else 0
        if i >= len(self.plans):
            return "hook", "", None
        plan = self.plans[i]
        table = self.tables[plan.name]
        kind = self.rng.choices(("insert", "select", "update", "delete"), (25, 35, 30, 10))[0]
        key = self.pick_key(plan) if plan.key else None
        if kind == "delete" and (not plan.deletable or not self.own[plan.name]):
            kind = "select"
        if kind in ("select", "update") and key is None:
            kind = "insert"
        if kind == "insert":
            values = {c: self.value(plan, c) for c in table.columns if not _server_generated(table, c)}
            return kind, plan.name, sa.insert(table).values(values).returning(*table.columns)
        if kind == "select":
            assert key is not None
            return kind, plan.name, sa.select(table).where(self.where(table, plan, key))
        if kind == "update":
            assert key is not None
            columns = [c for c in table.columns if not c.primary_key]
            if not columns:
                return "select", plan.name, sa.select(table).where(self.where(table, plan, key))
            n = self.turn[plan.name]
            self.turn[plan.name] = n + 1
            column = columns[n % len(columns)]
            return (
                kind,
                plan.name,
                sa.update(table).where(self.where(table, plan, key)).values({column: self.value(plan, column)}),
            )
        own = self.own[plan.name]
        key = own.pop(self.rng.randrange(len(own)))
        return kind, plan.name, sa.delete(table).where(self.where(table, plan, key))

    def run_one(self, step: int) -> None:
        kind, table_name, stmt = self.statement()
        stats = self.stats.setdefault(step, StepStats())
        started = time.perf_counter()
        try:
            with self.engine.begin() as conn:
                if kind == "hook":
                    self.hook(conn)
                else:
                    result = conn.execute(stmt)
                    if kind == "insert":
                        row = result.one()
                        plan = next(p for p in self.plans if p.name == table_name)
                        if plan.key:
                            self.own[table_name].append(tuple(row._mapping[k] for k in plan.key))
                    elif kind == "select":
                        result.all()
        except Exception as exc:
            stats.errors += 1
            where = f"{kind} {table_name}".strip() if kind != "hook" else f"traffic hook {self.setup.hook}"
            sig = (where, self.sql_of(exc, stmt), message_of(exc))
            stats.failures[sig] = stats.failures.get(sig, 0) + 1
        stats.ops += 1
        stats.latencies_ms.append((time.perf_counter() - started) * 1000.0)

    def sql_of(self, exc: BaseException, stmt: Any) -> str:
        text = getattr(exc, "statement", None)
        if not text and stmt is not None:
            try:
                text = str(stmt.compile(dialect=self.engine.dialect))
            except Exception:
                text = ""
        return " ".join(str(text or "").split())[:ERROR_SQL_CHARS]

    # -- the rename probe -------------------------------------------------------------------------
    def probe(self, command: tuple[Any, ...]) -> tuple[str, Any]:
        """("write", table, column, key or None, n): write a value of its own choosing through `column`
        (an UPDATE of row `key`, or an INSERT), answering (key, value); ("read", table, column, key, _)."""
        sa = self.sa
        verb, table_name, column_name, key, n = command
        table = self.tables.get(table_name)
        if table is None or column_name not in table.c:
            return "unmapped", None
        plan = next(p for p in self.plans if p.name == table_name)
        column = table.c[column_name]
        try:
            with self.engine.begin() as conn:
                if verb == "read":
                    row = conn.execute(sa.select(column).where(self.where(table, plan, key))).first()
                    return ("ok", row[0]) if row is not None else ("missing", None)
                value = self.marker(plan, column, n)
                if key is None:
                    values = {c: self.value(plan, c) for c in table.columns if not _server_generated(table, c)}
                    values[column] = value
                    row = conn.execute(sa.insert(table).values(values).returning(*table.columns)).one()
                    key = tuple(row._mapping[k] for k in plan.key)
                else:
                    conn.execute(sa.update(table).where(self.where(table, plan, key)).values({column: value}))
                return "ok", (key, value)
        except Exception as exc:
            return "error", f"{message_of(exc)} [{self.sql_of(exc, None)}]"

    def marker(self, plan: TablePlan, column: Any, n: int) -> Any:
        """A value nobody else writes when the column is free text, else one of the column's own values."""
        cp = plan.columns.get(column.name)
        values = [v for v in (cp.values if cp else []) if v is not None]
        if values and (not isinstance(values[0], str) or len(set(values)) < len(values) // 2):
            return values[n % len(values)]
        return f"ec-rehearse probe {n}"


def _server_generated(table: Any, column: Any) -> bool:
    auto = getattr(table, "autoincrement_column", None)  # SQLAlchemy 2; 1.4 keeps it private
    auto = auto if auto is not None else getattr(table, "_autoincrement_column", None)
    return bool(
        column is auto
        or column.identity is not None
        or column.computed is not None
        or column.server_default is not None
    )


def fallback(column: Any, rng: random.Random) -> Any:
    """A value from the model's type, for a column the schema lacks (the operation will say so)."""
    try:
        pytype = column.type.python_type
    except (NotImplementedError, AttributeError):
        return None
    n = rng.randrange(1, 1_000_000)
    makers: dict[type, Any] = {
        bool: lambda: n % 2 == 0,
        int: lambda: n,
        float: lambda: n / 7,
        Decimal: lambda: Decimal(n) / 100,
        str: lambda: f"r{n}",
        bytes: lambda: n.to_bytes(4, "big"),
        dt.datetime: lambda: dt.datetime.now(dt.UTC),
        dt.date: lambda: dt.date.today(),
        uuid.UUID: uuid.uuid4,
        dict: lambda: {"n": n},
        list: lambda: [n],
    }
    make = makers.get(pytype)
    return make() if make is not None else None


def message_of(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [ln.strip() for ln in str(orig).strip().splitlines() if ln.strip()]
    return f"{type(orig).__name__}: {lines[0] if lines else ''}".strip()[:500]


def main(setup: Setup, pipe: Connection, step: Any, stop: Any, seen: Any = None) -> None:
    """The process entry point: describe the models, take the plan, run until told to stop. After each
    operation, `seen[setup.index - 1]` (a shared array, when given) holds the step that operation ran in."""
    try:
        _main(setup, pipe, step, stop, seen)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass
    except BaseException:
        pipe.send(("crash", traceback.format_exc(limit=8)))


def _main(setup: Setup, pipe: Connection, step: Any, stop: Any, seen: Any) -> None:
    root = Path(setup.root)
    try:
        metadata = spec.metadata_of(spec.load(setup.models, root, f"{setup.release} models"), setup.models, "models")
        hook = spec.load(setup.hook, root, "traffic hook") if setup.hook else None
        if hook is not None and not callable(hook):
            raise UsageError(f"traffic hook {setup.hook!r} is not a function")
    except UsageError as exc:
        pipe.send(("error", str(exc)))
        return
    pipe.send(("ready", describe(metadata)))
    message = pipe.recv()
    if message[0] != "plan":
        return
    traffic = Traffic(setup, metadata, message[1], hook)
    interval = 1.0 / setup.rate if setup.rate > 0 else 0.0
    try:
        next_at = time.perf_counter()
        while not stop.is_set():
            while pipe.poll():
                pipe.send(("probe", traffic.probe(pipe.recv())))
            current = step.value
            traffic.run_one(current)
            if seen is not None:
                seen[setup.index - 1] = current
            next_at += interval
            pause = next_at - time.perf_counter()
            if pause > 0:
                stop.wait(pause)
            else:
                next_at = time.perf_counter()
        pipe.send(("result", traffic.stats))
    finally:
        traffic.engine.dispose()
        sys.stdout.flush()
