"""`status` tells the truth: a killed or Ctrl-C'd backfill is `interrupted` (phases and the backfills it
embeds alike), the runner lock counts only for this database, and a backfill's progress is estimated from
statistics that cover the column it fills."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from expandcontract.backfill import control
from expandcontract.backfill.spec import Spec, estimate_rows, plan
from expandcontract.db.connect import connect
from expandcontract.names import ADVISORY_LOCK_KEY
from tests.backfill.helpers import wait_for
from tests.conftest import create_database, drop_database
from tests.phases.conftest import ProjectFactory, run_cli

ITEMS = """op.execute("CREATE TABLE items (id bigint PRIMARY KEY, v int)")
op.execute("INSERT INTO items SELECT g, g FROM generate_series(1, 3000) g")
op.execute("CREATE FUNCTION slow(x int) RETURNS boolean LANGUAGE sql AS $$ SELECT pg_sleep(0.002) IS NULL $$")
op.add_column("items", sa.Column("flag", sa.Boolean()))"""
FILL = 'op.backfill("items", values={"flag": "slow(v)"})'
SMALL_BATCHES = """
[tool.expandcontract.backfill]
batch_time_ms = 20
initial_batch_size = 20
max_batch_size = 100
"""


def _status(factory: ProjectFactory, url: str) -> dict[str, Any]:
    r = run_cli(factory, url, "status", "--format", "json")
    assert r.returncode == 0, r.stderr
    change: dict[str, Any] = json.loads(r.stdout)["changes"][0]
    return change


@pytest.fixture
def slow_change(factory: ProjectFactory, database_url: str) -> ProjectFactory:
    factory.new("items", expand=ITEMS, migrate=FILL)
    with (factory.root / "pyproject.toml").open("a") as fh:
        fh.write(SMALL_BATCHES)
    r = run_cli(factory, database_url, "run", "expand")
    assert r.returncode == 0, r.stderr
    return factory


def _rows_done(url: str) -> int:
    rows = control.status(url)
    return int(rows[0]["rows_done"]) if rows else 0


def _as_from_a_terminal() -> None:
    """Ctrl-C reaches a command started from a terminal; a suite started in the background of a
    non-interactive shell ignores SIGINT, and its children would inherit that (Python then installs no
    KeyboardInterrupt handler), so the runner gets the terminal's disposition back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_an_interrupted_backfill_never_shows_as_running(
    slow_change: ProjectFactory, database_url: str, sig: signal.Signals
) -> None:
    runner = subprocess.Popen(
        [sys.executable, "-m", "expandcontract", "--database-url", database_url, "run", "migrate"],
        cwd=slow_change.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_from_a_terminal,
    )
    try:
        wait_for(lambda: _rows_done(database_url) > 0, timeout=60, what="the backfill's first batches")
        assert _status(slow_change, database_url)["phases"]["migrate"] == "running"  # while it runs, it says so
        runner.send_signal(sig)
        _out, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    change = _status(slow_change, database_url)
    assert change["phases"]["migrate"] == "interrupted"
    assert '"running"' not in json.dumps(change), change  # nothing of the change says running
    (backfill,) = change["backfills"]
    assert backfill["state"] == backfill["status"] == "interrupted"
    if sig == signal.SIGINT:
        assert runner.returncode == 130 and "Traceback" not in err
        hist = json.loads(run_cli(slow_change, database_url, "history", "--format", "json").stdout)["runs"]
        assert hist[0]["outcome"] == "interrupted" and hist[0]["phase"] == "migrate"
    text = run_cli(slow_change, database_url, "status").stdout
    assert "migrate interrupted" in text and "resumes it from its checkpoint" in text
    r = run_cli(slow_change, database_url, "run", "migrate")  # resumes from the checkpoint
    assert r.returncode == 0, r.stderr
    with connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM items WHERE flag IS NULL").fetchone() == (0,)
    assert _status(slow_change, database_url)["phases"]["migrate"] == "applied"


def test_a_runner_lock_on_another_database_is_not_this_ones(
    factory: ProjectFactory, database_url: str, pg_server_url: str
) -> None:
    factory.new("items", phases=("expand",))
    other = create_database(pg_server_url, "ec_other")
    holder = connect(other, autocommit=True)
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        r = run_cli(factory, database_url, "status", "--format", "json")
        assert json.loads(r.stdout)["runner_active"] is False
        r = run_cli(factory, database_url, "run", "expand", "--lock-wait", "0")
        assert r.returncode == 0, r.stderr  # not blocked by a runner of another database
        r = run_cli(factory, other, "run", "expand", "--lock-wait", "0")
        assert r.returncode == 1 and "another expandcontract runner holds the runner lock" in r.stderr
    finally:
        holder.close()
        drop_database(pg_server_url, other)


def test_progress_of_a_column_added_after_the_last_analyze(database_url: str) -> None:
    rows = 200_000
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE users (id bigint PRIMARY KEY, name text)")
        conn.execute(f"INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, {rows}) g")
        conn.commit()
        conn.execute("ANALYZE users")  # an analyzed table, as in production
        conn.execute("ALTER TABLE users ADD COLUMN email_verified boolean")  # the change's expand
        conn.commit()
        p = plan(conn, Spec("c.users", "users", {"email_verified": "false"}, where="email_verified IS NULL"))
        estimate = estimate_rows(conn, p)
        assert estimate is not None and 0.9 * rows <= estimate <= 1.1 * rows
        analyzed = conn.execute("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'users'").fetchone()
        assert estimate_rows(conn, p) == estimate  # the second run finds the column's stats: no new ANALYZE
        again = conn.execute("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'users'").fetchone()
        assert again == analyzed


def test_progress_when_stats_predate_the_rows_written_since(database_url: str) -> None:
    # The demo's rollback backfill: full_name was analyzed while still all NULL (right after its expand),
    # then filled by the migrate; the contract's downgrade re-adds name and backfills
    # `name IS NULL AND full_name IS NOT NULL`. Stale stats estimated 2 rows of 50,001.
    rows = 50_000
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE users (id bigint PRIMARY KEY, full_name text)")
        conn.execute(f"INSERT INTO users (id) SELECT g FROM generate_series(1, {rows}) g")
        conn.commit()
        conn.execute("ANALYZE users")  # full_name all NULL
        conn.execute("UPDATE users SET full_name = 'u' || id")  # the migrate, before autovacuum's ANALYZE
        conn.execute("ALTER TABLE users ADD COLUMN name text")  # the contract's downgrade
        conn.commit()
        conn.execute("SELECT pg_stat_force_next_flush()")  # make this session's writes visible in pg_stat now
        conn.commit()
        where = "name IS NULL AND full_name IS NOT NULL"
        p = plan(conn, Spec("c.users-rollback", "users", {"name": "full_name"}, where=where))
        estimate = estimate_rows(conn, p)
        assert estimate is not None and 0.9 * rows <= estimate <= 1.1 * rows, estimate


def test_status_of_a_database_never_migrated_creates_nothing(factory: ProjectFactory, database_url: str) -> None:
    factory.new("items")
    change = _status(factory, database_url)
    assert change["phases"] == {"expand": "pending", "migrate": "pending", "contract": "pending"}
    with connect(database_url) as conn:
        assert conn.execute("SELECT to_regnamespace('expandcontract')").fetchone() == (None,)
    assert not Path(factory.root, ".expandcontract").exists()
