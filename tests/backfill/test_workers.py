"""`backfill work NAME` processes share one backfill through range claims: no row twice, none missed,
and a killed worker's range is picked up by another."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from expandcontract.backfill import api
from expandcontract.backfill.spec import Spec
from tests.backfill.helpers import make_table, rows_done, scalar, slow_function, touched, wait_for
from tests.backfill.project import make_project

pytestmark = pytest.mark.integration

NAME = "chg.items"


def worker(url: str, cfg: Path, wid: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "expandcontract",
            "--database-url",
            url,
            "--config",
            str(cfg),
            "backfill",
            "work",
            NAME,
            "--worker-id",
            wid,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def setup(url: str, tmp_path: Path) -> Path:
    make_table(url, rows=3000)
    slow_function(url)
    api.register(url, Spec(NAME, "items", {"flag": "slow(v)"}))
    make_project(tmp_path, 'op.backfill("items", values={"flag": "slow(v)"}, name="chg.items")')
    cfg = tmp_path / "expandcontract.toml"
    cfg.write_text("[backfill]\nrange_rows = 250\nbatch_time_ms = 20\ninitial_batch_size = 20\nmax_batch_size = 100\n")
    return cfg


def test_two_workers_share_one_backfill_with_no_row_done_twice(database_url: str, tmp_path: Path) -> None:
    cfg = setup(database_url, tmp_path)
    procs = [worker(database_url, cfg, f"w{i}") for i in (1, 2)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    assert touched(database_url) == {1: 3000}
    per_worker = dict(
        scalar(
            database_url,
            "SELECT array_agg(ARRAY[worker, sum::text]) FROM (SELECT worker, sum(rows_done) "
            "FROM expandcontract.backfill_ranges GROUP BY worker) s",
        )
    )
    assert set(per_worker) == {"w1", "w2"}, per_worker
    assert all(int(n) > 300 for n in per_worker.values()), per_worker  # both did a real share
    assert scalar(database_url, "SELECT status FROM expandcontract.backfills") == "done"


def test_a_killed_workers_range_is_resumed_by_another(database_url: str, tmp_path: Path) -> None:
    cfg = setup(database_url, tmp_path)
    w1 = worker(database_url, cfg, "w1")
    try:
        wait_for(lambda: rows_done(database_url) > 100, what="w1 working")
        w1.send_signal(signal.SIGKILL)
        w1.wait(10)
    finally:
        if w1.poll() is None:
            w1.kill()
    # the server ends w1's session (and frees its range) once w1's last statement returns
    mine = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database "
    mine += "WHERE datname = current_database())"  # only this test's database: the server may be shared
    wait_for(lambda: scalar(database_url, mine) == 0)
    w2 = worker(database_url, cfg, "w2")
    _, err = w2.communicate(timeout=60)
    assert w2.returncode == 0, err
    assert touched(database_url) == {1: 3000}
    assert scalar(database_url, "SELECT count(*) FROM expandcontract.backfill_ranges WHERE NOT done") == 0


def test_a_worker_started_before_registration_waits_for_it(database_url: str, tmp_path: Path) -> None:
    make_table(database_url, rows=500)
    make_project(tmp_path, 'op.backfill("items", values={"flag": "true"}, name="chg.items")')
    cfg = tmp_path / "expandcontract.toml"
    cfg.write_text("[backfill]\nrange_rows = 100\nbatch_time_ms = 20\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "expandcontract",
            "--database-url",
            database_url,
            "--config",
            str(cfg),
            "backfill",
            "work",
            NAME,
            "--wait",
            "30",
            "--format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    wait_for(lambda: scalar(database_url, waiting) > 0, what="the worker connected and waiting")
    assert proc.poll() is None  # still waiting for the backfill to be registered
    api.register(database_url, Spec(NAME, "items", {"flag": "true"}))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert json.loads(out) == {"name": NAME, "rows_done": 500, "batches": json.loads(out)["batches"], "state": "done"}
    assert touched(database_url) == {1: 500}
