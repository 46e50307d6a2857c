"""Pause, resume and cancel from another process while a backfill runs; status in text and JSON."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from expandcontract.backfill import api, control
from expandcontract.backfill.checkpoint import ensure_schema
from expandcontract.backfill.errors import BackfillCancelled
from expandcontract.backfill.spec import Spec
from expandcontract.db.connect import connect
from tests.backfill.helpers import cli, config, make_table, rows_done, slow_function, start_backfill, touched, wait_for
from tests.backfill.project import make_project

pytestmark = pytest.mark.integration

NAME = "chg.items"
SPEC = Spec(NAME, "items", {"flag": "slow(v)"})


def start(url: str) -> tuple[threading.Thread, list[dict[str, Any]], list[BaseException]]:
    return start_backfill(url, SPEC, config(max_batch_size=100))


def status_json(url: str) -> dict[str, Any]:
    r = cli(url, "backfill", "status", NAME, "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    return dict(doc["backfills"][0])


def test_pause_resume_cancel_from_another_process(database_url: str, tmp_path: Path) -> None:
    make_table(database_url, rows=3000)
    slow_function(database_url)
    with connect(database_url) as conn:
        ensure_schema(conn)
    thread, events, errors = start(database_url)
    wait_for(lambda: rows_done(database_url) > 300, what="first batches")

    r = cli(database_url, "backfill", "pause", NAME)
    assert r.returncode == 0, r.stderr
    assert "pause requested for backfill chg.items" in r.stdout
    wait_for(lambda: status_json(database_url)["state"] == "paused", what="paused")
    held, seen = rows_done(database_url), len(events)
    # really paused: it keeps checking (two more heartbeats) and does no batch meanwhile
    wait_for(lambda: sum(e["state"] == "paused" for e in events[seen:]) >= 2, what="heartbeats while paused")
    assert rows_done(database_url) == held
    doc = status_json(database_url)
    assert (
        doc["live_processes"] == 1
        and "resume with `expandcontract backfill resume chg.items`" in doc["throttled_reason"]
    )
    assert any(e["state"] == "paused" for e in events)

    assert cli(database_url, "backfill", "resume", NAME).returncode == 0
    wait_for(lambda: rows_done(database_url) > held + 100, what="progress after resume")

    assert cli(database_url, "backfill", "cancel", NAME).returncode == 0
    thread.join(20)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], BackfillCancelled)
    assert errors[0].exit_code == 1 and "was cancelled" in str(errors[0])
    doc = status_json(database_url)
    assert doc["state"] == "cancelled" and doc["live_processes"] == 0
    cancelled_at = doc["rows_done"]
    assert 0 < cancelled_at < 3000

    # a cancelled backfill stays cancelled for workers too: exit 1, one line
    make_project(tmp_path, 'op.backfill("items", values={"flag": "slow(v)"}, name="chg.items")')
    r = cli(database_url, "--config", str(tmp_path / "pyproject.toml"), "backfill", "work", NAME)
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "is cancelled" in r.stderr

    # resume clears it; running again continues from the checkpoint, every row once
    assert cli(database_url, "backfill", "resume", NAME).returncode == 0
    result = api.run(database_url, SPEC, config(max_batch_size=100), lambda e: None)
    assert result.rows_done == 3000 - cancelled_at
    assert touched(database_url) == {1: 3000}
    text = cli(database_url, "backfill", "status")
    assert text.returncode == 0 and text.stdout.startswith("chg.items: done; public.items; 3,000")


def test_unknown_name_is_one_line_exit_2(database_url: str) -> None:
    make_table(database_url, rows=10)
    api.run(database_url, Spec("known", "items", {"v": "1"}), config(), lambda e: None)
    for args in (("status", "nope"), ("pause", "nope"), ("work", "nope")):
        r = cli(database_url, "backfill", *args)
        assert r.returncode == 2, r.stderr
        assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    r = cli(database_url, "backfill", "pause", "nope")
    assert "no backfill named 'nope'; known backfills: known" in r.stderr
    r = cli(database_url, "backfill", "pause", "known")
    assert r.returncode == 2 and "already done" in r.stderr


def test_unreachable_database_is_exit_2(tmp_path: Path) -> None:
    r = cli(f"postgresql://nobody@/db?host={tmp_path}", "backfill", "status")
    assert r.returncode == 2 and "cannot connect to PostgreSQL" in r.stderr and "Traceback" not in r.stderr


def test_status_and_schema_check_take_no_lock_that_queues_behind_a_batch(database_url: str) -> None:
    """A transaction reading the checkpoint table (as every batch does) must not make `status` or a second
    op.backfill wait: an ALTER TABLE ... IF NOT EXISTS would take ACCESS EXCLUSIVE and queue."""
    make_table(database_url, rows=10)
    api.run(database_url, Spec("one", "items", {"v": "1"}), config(), lambda e: None)
    holder = connect(database_url)
    holder.execute("SELECT * FROM expandcontract.backfills FOR UPDATE")  # like a batch in flight, but longer
    try:
        with connect(database_url) as conn:
            conn.execute("SET lock_timeout = '500ms'")
            ensure_schema(conn)  # raises LockNotAvailable if it takes a table lock
        done = threading.Event()
        threading.Thread(target=lambda: (control.status(database_url), done.set()), daemon=True).start()
        assert done.wait(5), "status waited on the checkpoint table"
    finally:
        holder.rollback()
        holder.close()


def test_a_long_lock_on_the_backfill_row_does_not_stop_the_batches(database_url: str) -> None:
    """Heartbeats and status writes time out on a locked backfill row and are retried; batches go on."""
    make_table(database_url, rows=2000)
    slow_function(database_url)
    with connect(database_url) as conn:
        ensure_schema(conn)
    thread, _events, errors = start(database_url)
    wait_for(lambda: rows_done(database_url) > 100, what="first batches")
    with connect(database_url) as holder:
        holder.execute("SELECT * FROM expandcontract.backfills FOR UPDATE")
        before = rows_done(database_url)
        # batches keep committing under the row lock: well past a heartbeat's wait on the locked row
        wait_for(lambda: rows_done(database_url) > before + 200, what="batches under the row lock")
        holder.rollback()
    thread.join(30)
    assert not thread.is_alive() and not errors, errors
    assert touched(database_url) == {1: 2000}
