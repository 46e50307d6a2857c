"""`run migrate --metrics-port 0` in another process while its backfill runs: the endpoint is scraped over
HTTP at moments the test controls through the backfill's own health check (a table says how many rows may
be done), never through sleeps: waiting before the first batch, waiting again after about half, then done.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
from typing import Any

import pytest

from expandcontract.db.connect import connect
from expandcontract.metrics.catalog import STATE, exported_series
from tests.backfill.helpers import wait_for
from tests.metrics.scrape import Samples, fetch, names, parse, value
from tests.phases.conftest import ProjectFactory, run_cli

pytestmark = pytest.mark.integration

ROWS = 3000
ITEMS = f"""op.execute("CREATE TABLE items (id bigint PRIMARY KEY, v int)")
op.execute("INSERT INTO items SELECT g, g FROM generate_series(1, {ROWS}) g")
op.execute("CREATE TABLE allowance (rows bigint NOT NULL)")
op.execute("INSERT INTO allowance VALUES (0)")
op.add_column("items", sa.Column("flag", sa.Boolean()))"""
FILL = 'op.backfill("items", values={"flag": "v % 3 = 0"})'
# go while fewer rows are filled than the allowance says: the test moves the backfill by moving the allowance
CONFIG = """
[tool.expandcontract.backfill]
batch_time_ms = 20
initial_batch_size = 20
max_batch_size = 100
check_interval_s = 0  # read before every batch: it stops within one batch of the allowance
health_check_sql = "SELECT (SELECT count(*) FROM items WHERE flag IS NOT NULL) < (SELECT rows FROM allowance)"
"""
NAME = "items.items"


def _allow(url: str, rows: int) -> None:
    with connect(url) as conn:
        conn.execute("UPDATE allowance SET rows = %s", (rows,))
        conn.commit()


def _scraper(base: str) -> Any:
    def scrape() -> Samples:
        code, _ctype, text = fetch(f"{base}/metrics")
        assert code == 200, text
        return parse(text)

    return scrape


def test_run_migrate_serves_its_metrics_while_the_backfill_runs(factory: ProjectFactory, database_url: str) -> None:
    factory.new("items", expand=ITEMS, migrate=FILL)
    with (factory.root / "pyproject.toml").open("a") as fh:
        fh.write(CONFIG)
    r = run_cli(factory, database_url, "run", "expand")
    assert r.returncode == 0, r.stderr
    args = [sys.executable, "-m", "expandcontract", "--database-url", database_url, "run", "migrate"]
    proc = subprocess.Popen([*args, "--metrics-port", "0"], cwd=factory.root, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    err: list[str] = []

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err.append(line)
            lines.put(line)

    threading.Thread(target=drain, daemon=True).start()
    try:
        while True:  # the endpoint announces itself before the run starts
            found = re.search(r"metrics on (http://127\.0\.0\.1:\d+)/metrics", lines.get(timeout=60))
            if found:
                break
        scrape = _scraper(found.group(1))

        def waits(s: Samples) -> float:
            labels = {"backfill": NAME, "reason": "health_check_sql"}
            return value(s, "expandcontract_backfill_throttle_events_total", **labels) or 0

        def throttled(s: Samples, n: int) -> bool:
            # the database says it waits (what serve would show) and this process has counted the wait (its
            # progress event follows the checkpoint write by a few milliseconds)
            return value(s, "expandcontract_backfill_throttled", backfill=NAME, reason="health_check_sql") == 1 and (
                waits(s) >= n
            )

        # 1. allowance 0: registered and waiting before its first batch
        s = wait_for(lambda: (lambda s: s if throttled(s, 1) else None)(scrape()), timeout=60, what="the first wait")
        assert value(s, "expandcontract_backfill_rows_done", backfill=NAME) == 0
        assert value(s, "expandcontract_backfill_status", backfill=NAME, status="running") == 1
        assert value(s, "expandcontract_backfill_workers", backfill=NAME) == 1
        assert value(s, "expandcontract_phase_runs", command="run", phase="migrate", outcome="running") == 1
        assert value(s, "expandcontract_backfill_batch_duration_seconds_count", backfill=NAME) in (None, 0)
        assert waits(s) == 1

        # 2. allowance half: it fills past it, then waits again; nothing moves while it waits
        _allow(database_url, ROWS // 2)

        def second_wait() -> Samples | None:
            s = scrape()
            done = value(s, "expandcontract_backfill_rows_done", backfill=NAME) or 0
            return s if done >= ROWS // 2 and throttled(s, 2) else None

        s = wait_for(second_wait, timeout=60, what="the second wait")
        done = value(s, "expandcontract_backfill_rows_done", backfill=NAME)
        assert done is not None and ROWS // 2 <= done < ROWS
        # the live counters of this process agree with the checkpoint in the database
        assert value(s, "expandcontract_backfill_rows_processed_total", backfill=NAME) == done
        assert value(s, "expandcontract_backfill_batch_rows_sum", backfill=NAME) == done
        batches = value(s, "expandcontract_backfill_batch_duration_seconds_count", backfill=NAME)
        assert batches is not None and batches >= 2
        assert value(s, "expandcontract_backfill_batch_rows_count", backfill=NAME) == batches
        assert value(s, "expandcontract_backfill_batch_duration_seconds_bucket", backfill=NAME, le="+Inf") == batches
        assert waits(s) == 2
        size = value(s, "expandcontract_backfill_batch_size_rows", backfill=NAME)
        assert size is not None and 5 <= size <= 100
        ours = {n for n in names(s) if n.startswith("expandcontract_")}
        assert ours <= exported_series(), ours - exported_series()
        assert set(STATE) <= ours

        # 3. no limit: it finishes, the run ends and takes its endpoint with it
        _allow(database_url, 10 * ROWS)
        assert proc.wait(120) == 0, "".join(err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM items WHERE flag IS DISTINCT FROM (v % 3 = 0)").fetchone() == (0,)
    assert "Traceback" not in "".join(err)


def test_a_metrics_port_in_use_is_one_clear_line(factory: ProjectFactory, database_url: str) -> None:
    import socket

    factory.new("items", phases=("expand",))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        r = run_cli(factory, database_url, "run", "expand", "--metrics-port", str(port))
    assert r.returncode == 2, r.stderr
    assert f"cannot listen on 127.0.0.1:{port} for --metrics-port" in r.stderr and "Traceback" not in r.stderr
    history = run_cli(factory, database_url, "history", "--format", "json")
    assert history.returncode == 0 and json.loads(history.stdout)["runs"] == [], history  # nothing ran


def test_without_the_option_prometheus_client_is_never_imported() -> None:
    code = (
        "import sys, expandcontract.cli.phases, expandcontract.backfill.api, expandcontract.backfill.op; "
        "assert 'prometheus_client' not in sys.modules and 'expandcontract.metrics' not in sys.modules"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
