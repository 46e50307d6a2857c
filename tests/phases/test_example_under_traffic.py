"""The shipped example, run change by change while an old and a new release of its app serve traffic.

Each change: the release before it (old) writes while the expand runs, the release that ships with it
(new) joins, the old one stops, then migrate and contract run under the new one. The traffic is what
an ORM app does through SQLAlchemy and psycopg with default settings, in committed transactions (so
psycopg prepares statements after five executions on a pooled connection): INSERT ... RETURNING, SELECT
by key, UPDATE of each mapped column of random existing rows (the seeded, not yet backfilled ones
included), DELETE of its own rows. Both releases must see zero errors, and the data must end up right.
"""

from __future__ import annotations

import importlib.util
import itertools
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

from expandcontract.config import load_config
from expandcontract.db.connect import connect, make_engine
from expandcontract.demo import copy_example
from expandcontract.phases.project import Project, load_project
from expandcontract.phases.run import run_phase

pytestmark = pytest.mark.integration

SEED = 2_000
CHANGES = ("users-email-verified", "users-full-name", "orders-id-bigint")


def release(workdir: Path, change: str) -> ModuleType:
    """The example app's models of the release that ships with `change`."""
    path = workdir / "app" / "releases" / f"{change.replace('-', '_')}.py"
    spec = importlib.util.spec_from_file_location(f"example_release_{path.stem}_{id(workdir)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Traffic:
    """One release's app traffic in a thread: every operation is its own committed transaction."""

    name: str
    engine: Any
    tables: list[sa.Table]
    errors: list[str] = field(default_factory=list)
    ops: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name=f"traffic-{self.name}", daemon=True)
        self.thread.start()

    def finish(self) -> None:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(60)
        assert not self.thread.is_alive(), f"{self.name} traffic did not stop"

    def wait_for(self, ops: int, timeout: float = 60.0) -> None:
        target = self.ops + ops
        deadline = time.monotonic() + timeout
        while self.ops < target and not self.stop.is_set():
            assert time.monotonic() < deadline, f"{self.name} traffic made no progress ({self.ops} ops)"
            time.sleep(0.01)

    def _keys(self, conn: Any, table: sa.Table) -> list[int]:
        pk = next(iter(table.primary_key.columns))
        rows = conn.execute(sa.select(pk).order_by(sa.func.random()).limit(500)).scalars().all()
        return [int(r) for r in rows]

    def _value(self, column: sa.Column[Any], users: list[int]) -> Any:
        n = self.rng.randrange(1_000_000)
        if column.name == "user_id":  # a seeded user: the other release may delete the users it inserted
            return self.rng.choice([u for u in users if u <= SEED])
        if isinstance(column.type, sa.Boolean):
            return self.rng.random() < 0.5
        if isinstance(column.type, sa.Integer):
            return n
        if isinstance(column.type, sa.DateTime):
            return sa.func.now()
        return f"{self.name}-{column.name}-{n}"

    def _run(self) -> None:
        with self.engine.begin() as conn:
            keys = {t.name: self._keys(conn, t) for t in self.tables}
        own: dict[str, list[int]] = {t.name: [] for t in self.tables}
        while not self.stop.is_set():
            table = self.rng.choice(self.tables)
            pk = next(iter(table.primary_key.columns))
            columns = [c for c in table.columns if not c.primary_key and c.server_default is None]
            kind = self.rng.choice(("insert", "select", "update", "update", "delete"))
            try:
                with self.engine.begin() as conn:
                    if kind == "insert":
                        values = {c.name: self._value(c, keys["users"]) for c in columns}
                        row = conn.execute(sa.insert(table).values(values).returning(*table.columns)).one()
                        own[table.name].append(int(row._mapping[pk.name]))
                    elif kind == "select":
                        conn.execute(sa.select(table).where(pk == self.rng.choice(keys[table.name]))).all()
                    elif kind == "update":
                        column = self.rng.choice([c for c in table.columns if not c.primary_key])
                        key = self.rng.choice(keys[table.name] + own[table.name])
                        value = self._value(column, keys["users"])
                        conn.execute(sa.update(table).where(pk == key).values({column.name: value}))
                    elif own[table.name]:  # orders only reference seeded users: own rows can go
                        conn.execute(sa.delete(table).where(pk == own[table.name].pop()))
            except Exception as exc:
                self.errors.append(f"{kind} {table.name}: {str(getattr(exc, 'orig', exc)).splitlines()[0]}")
            self.ops += 1


@contextmanager
def traffic(name: str, url: str, models: ModuleType | list[sa.Table]) -> Iterator[Traffic]:
    engine = make_engine(url, connect_args={"application_name": f"example-{name}"})
    tables = models if isinstance(models, list) else [models.User.__table__, models.Order.__table__]
    t = Traffic(name, engine, tables)
    t.start()
    try:
        yield t
    finally:
        if not t.stop.is_set():
            t.finish()
        engine.dispose()


def one(url: str, query: str) -> Any:
    with connect(url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def seed(url: str) -> None:
    with connect(url) as conn:
        conn.execute(
            "INSERT INTO users (email, name) SELECT 'seed' || g || '@example.com', 'Seed ' || g "
            "FROM generate_series(1, %s) g",
            (SEED,),
        )
        conn.execute("INSERT INTO orders (user_id, total_cents) SELECT id, id * 10 FROM users")
        conn.commit()


def run(project: Project, url: str, phase: str, change: str) -> None:
    report = run_phase(project, url, phase, change, notify=lambda _m: None)
    assert [o.revision for o in report.applied] == [project.change(change).revision(phase).id]  # type: ignore[union-attr]


Models = ModuleType | list[sa.Table]


def rehearse_change(project: Project, url: str, old: Models, new: Models, change: str) -> list[str]:
    errors: list[str] = []
    with traffic("old", url, old) as o:
        o.wait_for(50)
        run(project, url, "expand", change)
        o.wait_for(50)
        with traffic("new", url, new) as n:
            n.wait_for(100)  # both releases on the expanded schema
            o.finish()
            run(project, url, "migrate", change)
            n.wait_for(50)
            if change == "users-full-name":
                assert one(url, "SELECT count(*) FROM users WHERE name IS DISTINCT FROM full_name") == 0
            if change == "orders-id-bigint":
                assert one(url, "SELECT count(*) FROM orders WHERE id_new IS DISTINCT FROM id") == 0
            run(project, url, "contract", change)
            n.wait_for(100)  # the new release's prepared statements outlive the contract
            n.finish()
            errors += [f"new: {e}" for e in n.errors]
        errors += [f"old: {e}" for e in o.errors]
    return errors


def test_the_example_keeps_both_releases_working_change_by_change(tmp_path: Path, database_url: str) -> None:
    workdir = copy_example(tmp_path / "app")
    project = load_project(load_config(start=workdir))
    run(project, database_url, "expand", "initial-schema")
    seed(database_url)
    releases = ["initial-schema", *CHANGES]
    for before, change in itertools.pairwise(releases):
        errors = rehearse_change(project, database_url, release(workdir, before), release(workdir, change), change)
        assert errors == [], f"{change}: {len(errors)} app errors, first: {errors[:5]}"
    assert one(database_url, "SELECT count(*) FROM users WHERE email_verified IS NULL") == 0
    assert one(database_url, "SELECT count(*) FROM users WHERE full_name IS NULL") == 0
    assert one(database_url, f"SELECT count(*) FROM users WHERE id <= {SEED}") == SEED  # no seeded row lost
    assert (
        one(
            database_url,
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'orders'::regclass AND attname = 'id'",
        )
        == "bigint"
    )
    assert one(database_url, "SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id") == one(
        database_url, "SELECT count(*) FROM orders"
    )


def test_a_new_release_that_maps_the_widened_key_naively_fails_after_the_swap(
    tmp_path: Path, database_url: str
) -> None:
    """The control: without BigIntKey, the contract's swap breaks the new release's prepared statements."""
    workdir = copy_example(tmp_path / "app")
    project = load_project(load_config(start=workdir))
    run(project, database_url, "expand", "initial-schema")
    seed(database_url)
    for change in CHANGES[:2]:
        for phase in ("expand", "migrate", "contract"):
            run(project, database_url, phase, change)
    before, final = release(workdir, "users-full-name"), release(workdir, "orders-id-bigint")
    naive = sa.Table(
        "orders",
        sa.MetaData(),
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("total_cents", sa.Integer, nullable=False),
    )
    errors = rehearse_change(project, database_url, before, [final.User.__table__, naive], "orders-id-bigint")
    assert errors and all("cached plan must not change result type" in e for e in errors), errors[:5]
    assert all(e.startswith("new: ") and "orders" in e for e in errors)
