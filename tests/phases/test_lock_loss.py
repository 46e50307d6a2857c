"""The runner never runs without its lock: when its lock connection is terminated mid-backfill, it takes
the lock back before its next batch, or stops with exit 2 when a second runner got it; two runners never
run batches at the same time, the backfill data is exact, and every audit row is closed.

Every row the backfill touches records the backend, the transaction (one per batch) and the time it was
written, so the test checks with data that batches of different runners never overlap.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from expandcontract.db.connect import connect
from expandcontract.phases.state import runner_lock_holder
from tests.backfill.helpers import wait_for
from tests.phases.conftest import ProjectFactory

ROWS = 1200
ITEMS = f"""op.execute("CREATE TABLE items (id bigint PRIMARY KEY, v int, filled int, hits int, by_pid int, "
           "batch bigint, at timestamptz)")
op.execute("INSERT INTO items (id, v) SELECT g, g FROM generate_series(1, {ROWS}) g")
op.execute("CREATE FUNCTION slow(x int) RETURNS int LANGUAGE sql AS $$ SELECT x * 2 FROM pg_sleep(0.002) $$")"""
FILL = """op.backfill("items", values={
    "filled": "slow(v)",
    "hits": "coalesce(hits, 0) + 1",
    "by_pid": "pg_backend_pid()",
    "batch": "pg_current_xact_id()::text::bigint",
    "at": "clock_timestamp()",
})"""
SLOW_BATCHES = """
[tool.expandcontract.backfill]
batch_time_ms = 40
initial_batch_size = 10
max_batch_size = 50
range_rows = 200
sleep_ms = 300
max_batch_fraction = 0.0
"""


def _cmd(url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "expandcontract", "--database-url", url, *args]


def _one(url: str, query: str, params: tuple[Any, ...] = ()) -> Any:
    with connect(url, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
    return row[0] if row else None


class Proc:
    """A CLI process whose stderr goes to a file the test can read while it runs."""

    def __init__(self, factory: ProjectFactory, url: str, name: str, *args: str) -> None:
        self.err_path = factory.root.parent / f"{name}.err"
        self.err_file = self.err_path.open("w")
        self.p = subprocess.Popen(
            _cmd(url, *args), cwd=factory.root, stdout=subprocess.DEVNULL, stderr=self.err_file, text=True
        )

    def stderr(self) -> str:
        return Path(self.err_path).read_text()

    def wait(self, timeout: float = 180) -> int:
        try:
            return self.p.wait(timeout=timeout)
        finally:
            self.err_file.close()

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.err_file.close()


@pytest.fixture
def slow_fill(factory: ProjectFactory, database_url: str) -> ProjectFactory:
    factory.new("items", expand=ITEMS, migrate=FILL)
    with (factory.root / "pyproject.toml").open("a") as fh:
        fh.write(SLOW_BATCHES)
    r = subprocess.run(_cmd(database_url, "run", "expand"), cwd=factory.root, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return factory


def _filled(url: str) -> int:
    return int(_one(url, "SELECT count(*) FROM items WHERE filled IS NOT NULL"))


def _lock_pid(url: str) -> int | None:
    with connect(url, autocommit=True) as conn:
        holder = runner_lock_holder(conn)
    return holder[0] if holder else None


def _assert_exact_and_never_concurrent(url: str) -> None:
    bad = _one(url, "SELECT count(*) FROM items WHERE filled IS DISTINCT FROM v * 2 OR hits IS DISTINCT FROM 1")
    assert bad == 0, "rows missed or processed twice"
    with connect(url, autocommit=True) as conn:
        batches = conn.execute(
            "SELECT batch, min(by_pid), max(by_pid), min(at), max(at) FROM items GROUP BY batch ORDER BY 4"
        ).fetchall()
    assert all(b[1] == b[2] for b in batches)
    overlaps = [
        (a[0], b[0])
        for i, a in enumerate(batches)
        for b in batches[i + 1 :]
        if a[1] != b[1] and a[3] <= b[4] and b[3] <= a[4]
    ]
    assert not overlaps, f"batches of two runners ran at the same time: {overlaps[:5]}"
    assert _one(url, "SELECT count(*) FROM expandcontract.runs WHERE outcome = 'running'") == 0


def test_lock_connection_terminated_while_a_second_runner_waits(slow_fill: ProjectFactory, database_url: str) -> None:
    first = Proc(slow_fill, database_url, "first", "run", "migrate")
    second: Proc | None = None
    try:
        wait_for(lambda: _filled(database_url) > 0, timeout=60, what="the first runner's batches")
        holder = _lock_pid(database_url)
        assert holder is not None
        second = Proc(slow_fill, database_url, "second", "run", "migrate", "--lock-wait", "150")
        wait_for(lambda: "for the runner lock" in second.stderr(), timeout=60, what="the second runner to wait")
        assert _one(database_url, "SELECT pg_terminate_backend(%s)", (holder,)) is True
        first_code = first.wait()
        second_code = second.wait()
    finally:
        first.stop()
        if second is not None:
            second.stop()
    err = first.stderr()
    assert first_code in (0, 2), err
    assert "Traceback" not in err and "Traceback" not in second.stderr()
    if first_code == 2:  # the second runner got the lock: the first stopped before its next batch
        assert "lost its lock" in err and "another runner" in err
        outcome = _one(database_url, "SELECT outcome FROM expandcontract.runs ORDER BY id LIMIT 1 OFFSET 1")
        assert outcome == "failed"
    else:  # the first took its lock back first and finished; the second then had nothing left to do
        assert "took it back" in err
    assert second_code == 0, second.stderr()
    assert _filled(database_url) == ROWS
    _assert_exact_and_never_concurrent(database_url)


def test_lock_connection_terminated_runner_takes_the_lock_back(slow_fill: ProjectFactory, database_url: str) -> None:
    first = Proc(slow_fill, database_url, "first", "run", "migrate")
    try:
        wait_for(lambda: _filled(database_url) > 0, timeout=60, what="the runner's batches")
        holder = _lock_pid(database_url)
        assert holder is not None
        assert _one(database_url, "SELECT pg_terminate_backend(%s)", (holder,)) is True
        wait_for(lambda: _lock_pid(database_url) not in (None, holder), timeout=60, what="the lock taken back")
        code = first.wait()
    finally:
        first.stop()
    err = first.stderr()
    assert code == 0, err
    assert "took it back" in err
    assert _filled(database_url) == ROWS
    _assert_exact_and_never_concurrent(database_url)
    assert _one(database_url, "SELECT outcome FROM expandcontract.runs ORDER BY id DESC LIMIT 1") == "succeeded"


GATE_KEY = 4343
TWO_STATEMENTS = f"""op.execute("SELECT pg_advisory_lock_shared({GATE_KEY})")
op.execute("CREATE TABLE after_the_gate (id int)")"""


def test_lock_lost_mid_revision_stops_before_the_next_statement(factory: ProjectFactory, database_url: str) -> None:
    from expandcontract.names import ADVISORY_LOCK_KEY

    factory.new("gated", phases=("expand",), expand=TWO_STATEMENTS)
    with connect(database_url, autocommit=True) as gate, connect(database_url, autocommit=True) as other:
        gate.execute("SELECT pg_advisory_lock(%s)", (GATE_KEY,))
        runner = Proc(factory, database_url, "runner", "run", "expand")
        try:
            wait_for(
                lambda: (
                    _one(
                        database_url,
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory' AND query LIKE %s",
                        (f"SELECT pg_advisory_lock_shared({GATE_KEY})%",),
                    )
                    == 1
                ),
                timeout=60,
                what="the revision to wait on the gate",
            )
            holder = _lock_pid(database_url)
            assert holder is not None
            other.execute("SELECT pg_terminate_backend(%s)", (holder,))
            wait_for(lambda: _lock_pid(database_url) is None, timeout=30, what="the lock released")
            assert other.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,)).fetchone() == (True,)
            gate.execute("SELECT pg_advisory_unlock(%s)", (GATE_KEY,))
            code = runner.wait()
        finally:
            runner.stop()
    err = runner.stderr()
    assert code == 2, err
    assert "lost its lock" in err and "another runner" in err and "Traceback" not in err
    assert _one(database_url, "SELECT to_regclass('after_the_gate')") is None  # the statement never ran
    assert _one(database_url, "SELECT count(*) FROM expandcontract.runs WHERE outcome = 'running'") == 0
    assert _one(database_url, "SELECT outcome FROM expandcontract.runs ORDER BY id DESC LIMIT 1") == "failed"
