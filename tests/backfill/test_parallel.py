"""`run migrate --workers N`: N batch workers in one process over the same range claims as `backfill work`,
under real app traffic: every row exactly once, one throttle read per interval for all of them, a kill
mid-run resumed exactly (with a `backfill work` process on the side), and `backfill status` showing each
worker."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from expandcontract.backfill import api, control
from expandcontract.backfill.spec import Spec
from expandcontract.db.connect import connect
from tests.backfill.helpers import cli, config, make_table, rows_done, scalar, slow_function, touched, wait_for
from tests.backfill.project import make_project

pytestmark = pytest.mark.integration

ROWS = 20_000
EC = [sys.executable, "-m", "expandcontract"]


def hits_table(url: str) -> None:
    with connect(url) as conn:
        conn.execute(
            "CREATE TABLE t (id bigint PRIMARY KEY, v int NOT NULL, hits int NOT NULL DEFAULT 0, flag boolean)"
        )
        conn.execute(f"INSERT INTO t (id, v) SELECT g, g FROM generate_series(1, {ROWS}) g")
        conn.execute("ANALYZE t")
        conn.commit()


class Writer(threading.Thread):
    """An app process's traffic through SQLAlchemy: random-key UPDATEs and INSERTs, errors kept."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=1)
        self.stop = threading.Event()
        self.ops = 0
        self.errors: list[BaseException] = []

    def run(self) -> None:
        next_id = ROWS * 10
        try:
            while not self.stop.is_set():
                with self.engine.begin() as c:
                    if random.random() < 0.7:
                        c.execute(sa.text("UPDATE t SET v = v + 1 WHERE id = :id"), {"id": random.randint(1, ROWS)})
                    else:
                        next_id += 1
                        c.execute(sa.text("INSERT INTO t (id, v) VALUES (:id, 0)"), {"id": next_id})
                self.ops += 1
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            self.engine.dispose()


@pytest.mark.parametrize("workers", [2, 3])
def test_n_workers_do_every_row_exactly_once_under_app_traffic(database_url: str, workers: int) -> None:
    hits_table(database_url)
    writer = Writer(database_url)
    writer.start()
    try:
        wait_for(lambda: writer.ops > 20, what="app traffic")
        cfg = config(workers=workers, range_rows=1000, max_batch_size=300)
        events: list[dict[str, Any]] = []
        result = api.run(database_url, Spec("par", "t", {"flag": "true", "hits": "hits + 1"}), cfg, events.append)
    finally:
        writer.stop.set()
        writer.join(30)
    assert not writer.errors and writer.ops > 50, (writer.errors, writer.ops)
    upper = int(scalar(database_url, "SELECT upper_bound[1] FROM expandcontract.backfills"))  # fixed at start
    with connect(database_url) as conn:
        counts = dict(conn.execute(f"SELECT hits, count(*) FROM t WHERE id <= {upper} GROUP BY hits").fetchall())
    in_scope = scalar(database_url, f"SELECT count(*) FROM t WHERE id <= {upper}")
    assert in_scope >= ROWS and counts == {1: in_scope}, counts  # every row exactly once, none missed or twice
    assert result.state == "done" and result.rows_done == in_scope
    assert scalar(database_url, f"SELECT count(*) FROM t WHERE id <= {upper} AND flag IS NOT TRUE") == 0
    assert scalar(database_url, f"SELECT count(*) FROM t WHERE id > {upper} AND hits <> 0") == 0  # inserted later
    (row,) = control.status(database_url, "par")
    names = [w["worker"] for w in row["workers"]]
    assert len(names) == workers and all(n.endswith(f"/{i}") for i, n in enumerate(names, 1)), names
    assert all(w["rows_done"] > 0 and not w["working"] for w in row["workers"]), row["workers"]
    assert sum(w["rows_done"] for w in row["workers"]) == in_scope
    assert {e.get("workers") for e in events} >= {workers}  # the progress hook saw them all at once


SIGNAL_CALLS: list[float] = []


def count_signal() -> None:
    """A health check (`module:function`) that records when it was read and always says go."""
    SIGNAL_CALLS.append(time.monotonic())


def test_three_workers_read_each_signal_once_per_interval(database_url: str) -> None:
    make_table(database_url, rows=6000)
    slow_function(database_url)  # ~1 ms per row: about 2 s of batches for three workers
    SIGNAL_CALLS.clear()
    interval = 0.2
    cfg = config(
        workers=3,
        range_rows=500,
        check_interval_s=interval,
        health_check=f"{__name__}:count_signal",
    )
    t0 = time.monotonic()
    result = api.run(database_url, Spec("sig", "items", {"flag": "slow(v)"}), cfg, lambda e: None)
    elapsed = time.monotonic() - t0
    assert result.state == "done" and touched(database_url) == {1: 6000}
    assert elapsed > 4 * interval
    # one engine alone would read about elapsed/interval times; three unshared engines three times that
    assert len(SIGNAL_CALLS) <= elapsed / interval + 2, (len(SIGNAL_CALLS), elapsed)
    gaps = [b - a for a, b in itertools.pairwise(SIGNAL_CALLS)]
    # never two reads in one interval (unshared engines would read within milliseconds of each other); the
    # gap is measured inside the health check, after the SQL signals read before it, hence the slack
    assert min(gaps) >= interval * 0.5, gaps
    assert result.batches > 3 * len(SIGNAL_CALLS)  # batches ran far more often than the signal was read


def test_a_failing_worker_stops_its_siblings_and_keeps_the_checkpoint(database_url: str) -> None:
    make_table(database_url, rows=4000)
    with connect(database_url) as conn:  # row 3000 makes every batch that reaches it fail
        conn.execute("CREATE FUNCTION bad(x int) RETURNS boolean LANGUAGE sql AS $$ SELECT 1 / (x - 3000) > -1 $$")
        conn.commit()
    cfg = config(workers=2, range_rows=500)
    with pytest.raises(Exception, match=r"failed on public\.items at \(id\) = 3000") as err:
        api.run(database_url, Spec("bad", "items", {"flag": "bad(v)"}), cfg, lambda e: None)
    assert getattr(err.value, "exit_code", None) == 1
    assert scalar(database_url, "SELECT status FROM expandcontract.backfills") == "failed"
    # nothing is left running and no row was done twice
    assert set(touched(database_url)) <= {0, 1}
    mine = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database "
    mine += "WHERE datname = current_database())"
    assert scalar(database_url, mine) == 0


PROJECT_CONFIG = """
[tool.expandcontract.backfill]
batch_time_ms = 20
initial_batch_size = 20
max_batch_size = 100
range_rows = 300
check_interval_s = 0.2
"""


def _run_migrate(url: str, cfg: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "expandcontract", "--database-url", url, "--config", cfg, "run", "migrate", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_run_migrate_workers_killed_mid_run_resumes_exactly(database_url: str, tmp_path: Path) -> None:
    make_table(database_url, rows=6000)
    slow_function(database_url)
    make_project(tmp_path, 'op.backfill("items", values={"verified": "slow(v)"}, name="chg.items")')
    with (tmp_path / "pyproject.toml").open("a") as fh:
        fh.write(PROJECT_CONFIG)
    cfg = str(tmp_path / "pyproject.toml")
    assert cli(database_url, "--config", cfg, "run", "expand").returncode == 0

    runner = _run_migrate(database_url, cfg, "--workers", "3")
    try:
        # all three working at once, as `backfill status` shows them
        def three_working() -> Any:
            r = cli(database_url, "backfill", "status", "chg.items", "--format", "json")
            if r.returncode != 0:
                return None
            (row,) = json.loads(r.stdout)["backfills"]
            return row if sum(w["working"] for w in row["workers"]) == 3 else None

        row = wait_for(three_working, timeout=60, what="three workers holding ranges")
        assert row["state"] == "running" and row["live_processes"] == 3
        text = cli(database_url, "backfill", "status", "chg.items").stdout
        assert text.count(" working ") == 3 and "workers: " in text, text
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)
    finally:
        if runner.poll() is None:
            runner.kill()
    killed_at = rows_done(database_url)
    assert 0 < killed_at < 6000
    assert set(touched(database_url)) <= {0, 1}

    # resume: two workers in `run migrate` and one `backfill work` process beside them
    mine = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database "
    mine += "WHERE datname = current_database())"
    wait_for(lambda: scalar(database_url, mine) == 0, what="the killed sessions gone")
    resumed = _run_migrate(database_url, cfg, "--workers", "2")
    side = subprocess.Popen(
        [*EC, "--database-url", database_url, "--config", cfg, "backfill", "work", "chg.items", "--worker-id", "side"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    _, side_err = side.communicate(timeout=60)
    assert side.returncode == 0, side_err
    assert touched(database_url) == {1: 6000}  # exactly once across the kill, the resume and the side worker
    assert scalar(database_url, "SELECT count(*) FROM items WHERE verified IS NULL") == 0
    (row,) = control.status(database_url, "chg.items")
    assert row["state"] == "done" and sum(w["rows_done"] for w in row["workers"]) == 6000
    # Who did what depends on timing (a killed worker's unfinished range is done again by whoever claims it),
    # but every row is credited to one of these workers: the killed run's three, the resumed two, the side one.
    host = socket.gethostname()
    allowed = {f"{host}:{pid}/{i}" for pid, n in ((runner.pid, 3), (resumed.pid, 2)) for i in range(1, n + 1)}
    assert {w["worker"] for w in row["workers"]} <= allowed | {"side"}, row["workers"]


def test_workers_out_of_range_is_one_line_exit_2(database_url: str) -> None:
    make_table(database_url, rows=10)
    for n in (0, -1, 65):
        with pytest.raises(Exception, match="give 1 to 64") as err:
            api.run(database_url, Spec("w", "items", {"flag": "true"}), replace(config(), workers=n), lambda e: None)
        assert getattr(err.value, "exit_code", None) == 2
    assert touched(database_url) == {0: 10}


def test_the_row_estimate_is_made_beside_the_batches_not_before_them(database_url: str) -> None:
    """A new column has no statistics: the estimate ANALYZEs it first, on its own connection, while the
    first batches already run; the figure lands in the backfill row for status and ETA."""
    make_table(database_url, rows=3000)
    with connect(database_url) as conn:
        conn.execute("ALTER TABLE items ADD COLUMN verified boolean")  # no pg_stats row yet
        conn.commit()
    api.run(database_url, Spec("est", "items", {"verified": "true"}, where="verified IS NULL"), config(), None)
    estimate = wait_for(lambda: scalar(database_url, "SELECT rows_estimate FROM expandcontract.backfills"))
    assert 2000 <= estimate <= 4500  # the planner scales by the pages the first batches already added
    assert scalar(database_url, "SELECT count(*) FROM pg_stats WHERE tablename = 'items' AND attname = 'verified'") == 1
    assert touched(database_url) == {1: 3000}
