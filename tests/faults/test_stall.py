"""A network that stays open but carries nothing (tests/faults/proxy.py in `stall` mode) must not hang a
phase: mid-backfill the runner notices, the orphaned session's row locks go at once so the app can write
those rows, and the backfill reconnects and finishes with every row done once; mid `CREATE INDEX
CONCURRENTLY` the runner stops with one line instead of waiting forever."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from expandcontract.db.connect import connect
from tests.backfill.helpers import rows_done, scalar, touched, wait_for
from tests.faults import project
from tests.faults.proxy import Proxy

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RUN_BOUND_S = 90.0  # a run that has not ended by then hangs (the backfill alone takes a few seconds)
APP_LOCK_WAIT_MS = 20_000  # the app's writer gives up on the backfill's row locks after this long


def test_stall_mid_backfill_releases_the_rows_and_the_run_finishes(tmp_path: Path, database_url: str) -> None:
    project.make(tmp_path, database_url)
    code, err = project.finish(project.run(tmp_path, database_url, "run", "expand", "--change", project.SLUG), 60)
    assert code == 0, err
    with Proxy.before(database_url) as proxy:
        runner = project.run(tmp_path, proxy.url(database_url), "run", "migrate", "--change", project.SLUG)
        try:
            wait_for(lambda: rows_done(database_url) >= 300, timeout=60, what="first batches")
            proxy.arm("stall", project.BACKFILL_SQL)
            assert proxy.fired.wait(30), "no batch UPDATE went through the proxy"
            # the server ran the batch and holds its row locks; its answer never reaches the runner
            holder = wait_for(lambda: project.holder_of_rows(database_url), timeout=10, what="row lock holder")
            cursor = int(scalar(database_url, "SELECT max(cursor_key[1])::bigint FROM expandcontract.backfill_ranges"))
            app_error: list[BaseException] = []
            app_done = threading.Event()

            def app_writer() -> None:  # an app process updating a row of the stalled batch
                try:
                    with connect(database_url) as conn:
                        conn.execute(f"SET lock_timeout = {APP_LOCK_WAIT_MS}")
                        conn.execute("UPDATE items SET v = v WHERE id = %s", (cursor + 1,))
                        conn.commit()
                    app_done.set()
                except BaseException as exc:
                    app_error.append(exc)

            writer = threading.Thread(target=app_writer, daemon=True)
            writer.start()
            writer.join(APP_LOCK_WAIT_MS / 1000 + 10)
            assert app_done.is_set(), (holder, app_error)
            code, err = project.finish(runner, RUN_BOUND_S)
        finally:
            if runner.poll() is None:
                runner.kill()
    assert code == 0, err[-3000:]
    assert "connection stalled" in err and "Traceback" not in err, err[-3000:]
    # every row backfilled exactly once; the app's own update of one row counted once more
    assert touched(database_url) == {1: 2999, 2: 1}
    assert scalar(database_url, "SELECT count(*) FROM items WHERE verified IS NULL") == 0


def test_stall_mid_create_index_concurrently_ends_the_run(tmp_path: Path, database_url: str) -> None:
    project.make(tmp_path, database_url, rows=2000)
    with Proxy.before(database_url) as proxy:
        proxy.arm("stall", project.CIC_SQL)
        started = time.monotonic()
        runner = project.run(tmp_path, proxy.url(database_url), "run", "expand", "--change", project.SLUG)
        code, err = project.finish(runner, RUN_BOUND_S)
        elapsed = time.monotonic() - started
        assert proxy.fired.is_set(), err
    assert code is not None, f"run expand still hung after {elapsed:.0f} s: {err[-2000:]}"
    assert code != 0 and "connection stalled" in err and "Traceback" not in err, (code, err)
    lines = [ln for ln in err.splitlines() if ln.startswith("error")]
    assert len(lines) <= 1, err
    # the audit row of the run is closed, not left "running"
    assert scalar(database_url, "SELECT count(*) FROM expandcontract.runs WHERE finished_at IS NULL") == 0
    # and a rerun finishes the revision (the build's outcome is settled, the index VALID)
    code, err = project.finish(project.run(tmp_path, database_url, "run", "expand", "--change", project.SLUG), 90)
    assert code == 0, err
    assert scalar(database_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_v_idx'::regclass") is True


def test_cut_mid_backfill_reconnects_and_finishes(tmp_path: Path, database_url: str) -> None:
    project.make(tmp_path, database_url)
    code, err = project.finish(project.run(tmp_path, database_url, "run", "expand", "--change", project.SLUG), 60)
    assert code == 0, err
    with Proxy.before(database_url) as proxy:
        runner = project.run(tmp_path, proxy.url(database_url), "run", "migrate", "--change", project.SLUG)
        wait_for(lambda: rows_done(database_url) >= 300, timeout=60, what="first batches")
        proxy.arm("cut", project.BACKFILL_SQL)
        code, err = project.finish(runner, RUN_BOUND_S)
        assert proxy.fired.is_set()
    assert code == 0 and "connection lost" in err and "Traceback" not in err, err[-3000:]
    assert touched(database_url) == {1: 3000}
