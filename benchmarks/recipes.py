"""Recipes benchmark: each recipe on a populated table, phase by phase, under both releases' traffic, next to
the one-statement change it replaces.

    python benchmarks/recipes.py [--rows 1000000] [--only rename-column,change-type] [--database-url URL]
                                 [--threads 2] [--json FILE]

For each recipe: a project (`init`, a first change that creates the tables), the table filled with ROWS
rows, the change written by the recipe, then the deploy: expand while the old release's traffic runs
(SQLAlchemy threads: INSERT ... RETURNING, SELECT by key, UPDATE of random rows, committed transactions);
the new release joins, the old one leaves; migrate and contract under the new release. Measured per phase:
its duration, the longest time any session other than the app's held a lock on the table that blocks
writes (SHARE or stronger, sampled from pg_locks every few milliseconds; the mode is reported), and the
app's errors and slowest operation. Then the baseline on a copy of the same table: the one-statement change
run while the old release's traffic goes on (its duration, its longest lock, the old release's errors).

Uses the test suite's traffic harness (tests/recipes), a fresh embedded PostgreSQL unless --database-url
names a server (the benchmark creates and drops its own databases there).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.types import TypeDecorator  # noqa: E402

from expandcontract.db import embedded  # noqa: E402
from expandcontract.db.connect import connect  # noqa: E402
from expandcontract.db.url import where, with_database  # noqa: E402
from expandcontract.recipes.add_check import AddCheck  # noqa: E402
from expandcontract.recipes.add_column import AddColumn  # noqa: E402
from expandcontract.recipes.add_foreign_key import AddForeignKey  # noqa: E402
from expandcontract.recipes.add_unique import AddUnique  # noqa: E402
from expandcontract.recipes.base import Recipe  # noqa: E402
from expandcontract.recipes.change_type import ChangeType  # noqa: E402
from expandcontract.recipes.drop_column import DropColumn  # noqa: E402
from expandcontract.recipes.rename_column import RenameColumn  # noqa: E402
from expandcontract.recipes.set_not_null import SetNotNull  # noqa: E402
from tests.recipes.harness import Project  # noqa: E402
from tests.recipes.traffic import Release, Traffic  # noqa: E402

WRITE_BLOCKING = {"ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"}
SAMPLE_S = 0.002


class CastBigInteger(TypeDecorator[int]):
    impl = sa.BigInteger
    cache_ok = True

    def column_expression(self, column: Any) -> Any:
        return sa.cast(column, sa.BigInteger)


def _model(name: str, table: str, columns: dict[str, Any], values: dict[str, Any], key: Any = sa.Integer) -> Release:
    cols = [sa.Column("id", key, primary_key=True)] + [sa.Column(c, t) for c, t in columns.items()]
    return Release(name, sa.Table(table, sa.MetaData(), *cols), "id", values)


def _text(prefix: str) -> Any:
    return lambda rng, k: f"{prefix}{rng.randint(0, 10**12)}"


@dataclass
class Case:
    name: str
    table: str
    ddl: str
    seed: str  # {rows} is the row count
    recipe: Recipe
    old: Release
    new: Release
    naive: str  # the one-statement change it replaces


def cases() -> list[Case]:
    users = "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, email text, age integer{extra})"
    seed = (
        "INSERT INTO users (name, email, age{cols}) SELECT 'user ' || g, 'u' || g || '@x', g % 90{vals} "
        "FROM generate_series(1, {{rows}}) g"
    )
    base = {"name": sa.Text, "email": sa.Text, "age": sa.Integer}
    writes = {"name": _text("n"), "age": lambda r, k: r.randint(0, 99)}
    plain_old, plain_new = _model("old", "users", base, writes), _model("new", "users", base, writes)
    return [
        Case(
            "rename-column",
            "users",
            users.format(extra="") + "; CREATE INDEX ix_users_name ON users (name)",
            seed.format(cols="", vals=""),
            RenameColumn("users.name", "full_name"),
            plain_old,
            _model("new", "users", {"full_name": sa.Text, "email": sa.Text}, {"full_name": _text("n")}),
            "ALTER TABLE users RENAME COLUMN name TO full_name",
        ),
        Case(
            "change-type",
            "orders",
            "CREATE TABLE orders (id serial PRIMARY KEY, total integer NOT NULL, note text); "
            "CREATE TABLE order_items (id serial PRIMARY KEY, order_id integer NOT NULL REFERENCES orders (id), "
            "qty integer)",
            "INSERT INTO orders (total, note) SELECT g, 'o' FROM generate_series(1, {rows}) g; "
            "INSERT INTO order_items (order_id, qty) SELECT g * 10, 1 FROM generate_series(1, {rows} / 10) g",
            ChangeType("orders.id", "bigint"),
            _model(
                "old", "orders", {"total": sa.Integer, "note": sa.Text}, {"total": lambda r, k: r.randint(0, 10**6)}
            ),
            _model(
                "new",
                "orders",
                {"total": sa.Integer, "note": sa.Text},
                {"total": lambda r, k: r.randint(0, 10**6)},
                CastBigInteger,
            ),
            "ALTER TABLE orders ALTER COLUMN id TYPE bigint",
        ),
        Case(
            "add-column",
            "users",
            users.format(extra=""),
            seed.format(cols="", vals=""),
            AddColumn("users.plan", "text", default="'free'", not_null=True),
            plain_old,
            _model("new", "users", {**base, "plan": sa.Text}, {**writes, "plan": _text("p")}),
            "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free'",
        ),
        Case(
            "add-column-volatile",
            "users",
            users.format(extra=""),
            seed.format(cols="", vals=""),
            AddColumn("users.token", "uuid", default="gen_random_uuid()", not_null=True),
            plain_old,
            _model("new", "users", {**base, "token": sa.Uuid}, writes),
            "ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()",
        ),
        Case(
            "set-not-null",
            "users",
            users.format(extra=", plan text"),
            seed.format(cols=", plan", vals=", CASE WHEN g % 10 = 0 THEN NULL ELSE 'paid' END"),
            SetNotNull("users.plan", fill="'free'"),
            _model("old", "users", {**base, "plan": sa.Text}, writes),
            _model("new", "users", {**base, "plan": sa.Text}, {**writes, "plan": _text("p")}),
            "UPDATE users SET plan = 'free' WHERE plan IS NULL; ALTER TABLE users ALTER COLUMN plan SET NOT NULL",
        ),
        Case(
            "add-foreign-key",
            "posts",
            "CREATE TABLE users (id serial PRIMARY KEY, name text); "
            "CREATE TABLE posts (id serial PRIMARY KEY, user_id integer, title text)",
            "INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, {rows} / 10) g; "
            "INSERT INTO posts (user_id, title) SELECT 1 + g % ({rows} / 10), 't' FROM generate_series(1, {rows}) g",
            AddForeignKey("posts.user_id", "users.id"),
            _model("old", "posts", {"user_id": sa.Integer, "title": sa.Text}, {"title": _text("t")}),
            _model("new", "posts", {"user_id": sa.Integer, "title": sa.Text}, {"title": _text("t")}),
            "ALTER TABLE posts ADD CONSTRAINT posts_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)",
        ),
        Case(
            "add-unique",
            "users",
            users.format(extra=""),
            seed.format(cols="", vals=""),
            AddUnique("users.email"),
            _model("old", "users", base, {**writes, "email": _text("o@")}),
            _model("new", "users", base, {**writes, "email": _text("n@")}),
            "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)",
        ),
        Case(
            "add-check",
            "users",
            users.format(extra=""),
            seed.format(cols="", vals=""),
            AddCheck("users", "users_age_positive", "age >= 0"),
            plain_old,
            plain_new,
            "ALTER TABLE users ADD CONSTRAINT users_age_positive CHECK (age >= 0)",
        ),
        Case(
            "drop-column",
            "users",
            users.format(extra=", legacy text"),
            seed.format(cols=", legacy", vals=", 'l'"),
            DropColumn("users.legacy"),
            _model("old", "users", {**base, "legacy": sa.Text}, {**writes, "legacy": _text("l")}),
            plain_new,
            "ALTER TABLE users DROP COLUMN legacy",
        ),
    ]


@dataclass
class LockSampler:
    """The longest continuous hold of a write-blocking lock on `table` by a session that is not the app's,
    and the longest wait of an app session on any lock, with the statement of the session it waited for."""

    url: str
    table: str
    stopping: threading.Event = field(default_factory=threading.Event)
    holds: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, mode)
    waits: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, blocker's statement)

    def start(self) -> LockSampler:
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)

    def _loop(self) -> None:
        open_: dict[tuple[int, str], tuple[float, float]] = {}
        waiting: dict[int, tuple[float, float, str]] = {}
        with connect(self.url, autocommit=True) as conn:
            oid = conn.execute("SELECT %s::regclass::oid", (self.table,)).fetchone()[0]  # type: ignore[index]
            while not self.stopping.is_set():
                now = time.monotonic()
                rows = conn.execute(
                    "SELECT l.pid, l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'relation' AND l.relation = %s AND l.granted AND l.pid <> pg_backend_pid() "
                    "AND a.application_name NOT LIKE 'app-%%'",
                    (oid,),
                ).fetchall()
                seen = {(pid, mode) for pid, mode in rows if mode in WRITE_BLOCKING}
                for key in seen:
                    first, _ = open_.get(key, (now, now))
                    open_[key] = (first, now)
                for key in list(open_):
                    if key not in seen:
                        first, last = open_.pop(key)
                        self.holds.append((first, last + SAMPLE_S, key[1]))
                blocked = dict(
                    conn.execute(
                        "SELECT a.pid, coalesce((SELECT left(b.query, 160) FROM pg_stat_activity b "
                        "WHERE b.pid = (pg_blocking_pids(a.pid))[1]), '?') FROM pg_stat_activity a "
                        "WHERE a.application_name LIKE 'app-%%' AND a.wait_event_type = 'Lock'"
                    ).fetchall()
                )
                for pid, blocker in blocked.items():
                    first, _, _ = waiting.get(pid, (now, now, blocker))
                    waiting[pid] = (first, now, blocker)
                for pid in list(waiting):
                    if pid not in blocked:
                        first, last, blocker = waiting.pop(pid)
                        self.waits.append((first, last + SAMPLE_S, blocker))
                time.sleep(SAMPLE_S)
        for (_, mode), (first, last) in open_.items():
            self.holds.append((first, last + SAMPLE_S, mode))

    def longest(self, t0: float, t1: float) -> tuple[float, str]:
        inside = [(end - start, mode) for start, end, mode in self.holds if start < t1 and end > t0]
        return max(inside, default=(0.0, "-"))

    def longest_wait(self, t0: float, t1: float) -> tuple[float, str]:
        inside = [(end - start, what) for start, end, what in self.waits if start < t1 and end > t0]
        return max(inside, default=(0.0, "-"))


def _window(traffic: list[Traffic], t0: float, t1: float) -> tuple[int, int, float]:
    """(operations, errors, slowest operation in s) of the traffic inside [t0, t1]."""
    ops = errors = 0
    slowest = 0.0
    for t in traffic:
        for w in t.workers:
            for start, seconds, ok in w.timings:
                if t0 <= start <= t1:
                    ops += 1
                    errors += not ok
                    slowest = max(slowest, seconds)
    return ops, errors, slowest


def run_case(case: Case, server: str, rows: int, threads: int, work: Path) -> dict[str, Any]:
    from tests.conftest import create_database, drop_database

    url = create_database(server, "ec_bench_recipes")
    copy = None
    try:
        project = Project(work / case.name, url, server)
        t = time.monotonic()
        project.setup(case.ddl, "SELECT 1", case.seed.format(rows=rows))
        seeded = time.monotonic() - t
        t = time.monotonic()
        project.new(case.name, case.recipe)
        generated = time.monotonic() - t
        name = where(url).dbname
        with connect(server, autocommit=True) as conn:  # the baseline's table: a copy of this one
            conn.execute(f'CREATE DATABASE "{name}_naive" TEMPLATE "{name}"')
        copy = with_database(server, f"{name}_naive")
        phases = _deploy(project, case, rows, threads)
        naive = _naive(copy, case, rows, threads)
        return {
            "recipe": case.name,
            "rows": rows,
            "seed_s": round(seeded, 2),
            "new_s": round(generated, 2),
            "phases": phases,
            "naive": naive,
        }
    finally:
        drop_database(server, url)
        if copy is not None:
            drop_database(server, copy)


def _deploy(project: Project, case: Case, rows: int, threads: int) -> dict[str, Any]:
    workers = 2 * threads
    old = Traffic(project.url, case.old, first_worker=1, workers=workers, threads=threads, max_key=rows).start()
    new = Traffic(project.url, case.new, first_worker=threads + 1, workers=workers, threads=threads, max_key=rows)
    sampler = LockSampler(project.url, case.table).start()
    out: dict[str, Any] = {}
    try:
        old.wait(100)
        for phase in ("expand", "migrate", "contract"):
            if phase == "migrate":
                new.start()
                new.wait(100)
                old.wait(50)
                old.stop()
            t0 = time.monotonic()
            project.run(phase, case.name)
            t1 = time.monotonic()
            (new if phase != "expand" else old).wait(50)
            lock, mode = sampler.longest(t0, t1)
            wait, blocker = sampler.longest_wait(t0, t1)
            ops, errors, slowest = _window([old, new], t0, t1)
            out[phase] = {
                "seconds": round(t1 - t0, 2),
                "longest_lock_ms": round(lock * 1000, 1),
                "lock_mode": mode,
                "longest_app_lock_wait_ms": round(wait * 1000, 1),
                "waited_for": blocker,
                "app_ops": ops,
                "app_errors": errors,
                "slowest_app_op_ms": round(slowest * 1000, 1),
            }
    finally:
        sampler.stop()
        old.stop()
        new.stop()
    out["app_errors_total"] = len(old.errors) + len(new.errors)
    out["first_errors"] = (old.errors + new.errors)[:3]
    return out


def _naive(url: str, case: Case, rows: int, threads: int) -> dict[str, Any]:
    old = Traffic(url, case.old, first_worker=1, workers=threads, threads=threads, max_key=rows).start()
    sampler = LockSampler(url, case.table).start()
    try:
        old.wait(100)
        t0 = time.monotonic()
        failed = None
        with connect(url) as conn:  # one transaction, as one Alembic revision would run it
            try:
                conn.execute(case.naive)
                conn.commit()
            except Exception as exc:  # under traffic the one statement can fail outright: that is a result too
                failed = str(exc).splitlines()[0]
        t1 = time.monotonic()
        old.wait(100)
        t2 = time.monotonic()
    finally:
        sampler.stop()
        old.stop()
    lock, mode = sampler.longest(t0, t1)
    wait, _ = sampler.longest_wait(t0, t2)
    ops, errors, slowest = _window([old], t0, t2)
    return {
        "statement": case.naive,
        "failed": failed,
        "seconds": round(t1 - t0, 2),
        "longest_lock_ms": round(lock * 1000, 1),
        "lock_mode": mode,
        "longest_app_lock_wait_ms": round(wait * 1000, 1),
        "old_release_errors": errors,
        "old_release_ops": ops,
        "first_errors": old.errors[:3],
        "slowest_app_op_ms": round(slowest * 1000, 1),
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| recipe | expand s | migrate s | contract s | longest lock on the table, ms (mode, phase) | "
        "longest app lock wait ms | app errors | one statement: s | its lock ms | its app lock wait ms | "
        "its old-release errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    phases = ("expand", "migrate", "contract")
    for r in results:
        p, n = r["phases"], r["naive"]
        worst = max(phases, key=lambda ph: p[ph]["longest_lock_ms"])
        wait = max(p[ph]["longest_app_lock_wait_ms"] for ph in phases)
        lock_mode = p[worst]["lock_mode"].removesuffix("Lock")
        lines.append(
            f"| {r['recipe']} | {p['expand']['seconds']} | {p['migrate']['seconds']} | {p['contract']['seconds']} | "
            f"{p[worst]['longest_lock_ms']} ({lock_mode}, {worst}) | {wait} | {p['app_errors_total']} | "
            f"{n['seconds']}{' (failed)' if n['failed'] else ''} | {n['longest_lock_ms']} | "
            f"{n['longest_app_lock_wait_ms']} | {n['old_release_errors']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", default="", help="comma-separated recipe names")
    parser.add_argument("--database-url", default=None, help="a server to create the benchmark's databases on")
    parser.add_argument("--threads", type=int, default=2, help="traffic threads per release")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ec-bench-recipes-"))
    work.chmod(0o755)
    data_dir = None
    server = args.database_url
    if server is None:
        data_dir = work / "pg"
        server = embedded.start(data_dir)
    try:
        picked = [c for c in cases() if not args.only or c.name in args.only.split(",")]
        results = []
        for case in picked:
            print(f"{case.name}: {args.rows:,} rows ...", file=sys.stderr, flush=True)
            results.append(run_case(case, server, args.rows, args.threads, work))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
        print(table(results))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
    finally:
        if data_dir is not None:
            embedded.stop(data_dir)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
