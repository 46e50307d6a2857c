"""op.backfill inside a real Alembic migrate revision, run through alembic's command API and CLI."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig

from expandcontract.backfill import control
from expandcontract.backfill.checkpoint import ensure_schema
from expandcontract.db.connect import connect
from tests.backfill.helpers import make_table, scalar, touched
from tests.backfill.project import make_project

pytestmark = pytest.mark.integration

CALL = 'op.backfill("items", values={"verified": "v % 2 = 0"}, where="verified IS NULL")'
CONFIG = """
[tool.expandcontract.backfill]
batch_time_ms = 20
initial_batch_size = 50
max_batch_size = 300
"""


def project(tmp_path: Path, call: str = CALL) -> AlembicConfig:
    make_project(tmp_path, call)
    with (tmp_path / "pyproject.toml").open("a") as fh:
        fh.write(CONFIG)
    return AlembicConfig(str(tmp_path / "alembic.ini"))


def test_op_runs_the_backfill_in_a_migrate_revision(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_table(database_url, rows=2000)
    monkeypatch.setenv("DATABASE_URL", database_url)
    acfg = project(tmp_path)
    events: list[dict[str, Any]] = []
    acfg.attributes["expandcontract.backfill.progress"] = events.append
    command.upgrade(acfg, "migrate@head")
    assert touched(database_url) == {1: 2000}
    assert scalar(database_url, "SELECT count(*) FROM items WHERE verified IS DISTINCT FROM (v % 2 = 0)") == 0
    assert scalar(database_url, "SELECT name || ':' || status FROM expandcontract.backfills") == (
        "items-verified.items:done"
    )
    assert scalar(database_url, "SELECT count(*) FROM expandcontract.revision_state WHERE phase = 'migrate'") == 1
    assert events and events[-1]["state"] == "done" and events[-1]["rows_done"] == 2000
    assert {"name", "rows_done", "rows_estimate", "rate", "eta_s", "batch_size", "throttled_reason"} <= set(events[0])


def test_offline_sql_is_a_comment(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    acfg = project(tmp_path)
    out = io.StringIO()
    acfg.stdout = out
    with redirect_stdout(out):
        command.upgrade(acfg, "migrate@head", sql=True)
    assert (
        "-- expandcontract backfill items-verified.items: UPDATE items SET verified = v % 2 = 0 "
        "WHERE verified IS NULL in keyset batches" in out.getvalue()
    )


def test_sigkill_mid_backfill_then_rerun_resumes_every_row_exactly_once(tmp_path: Path, database_url: str) -> None:
    make_table(database_url, rows=3000)
    with connect(database_url) as conn:  # ~1 ms per row, so the run lasts seconds
        conn.execute("CREATE FUNCTION slow(x int) RETURNS boolean LANGUAGE sql AS $$ SELECT pg_sleep(0.001) IS NULL $$")
        conn.commit()
        ensure_schema(conn)
    project(tmp_path, 'op.backfill("items", values={"verified": "slow(v) AND v % 2 = 0"})')
    env = {**os.environ, "DATABASE_URL": database_url}
    alembic = [
        str(Path(sys.executable).parent / "alembic"),
        "-c",
        str(tmp_path / "alembic.ini"),
        "upgrade",
        "migrate@head",
    ]
    proc = subprocess.Popen(alembic, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        done = 0
        while time.monotonic() < deadline and done < 600:
            time.sleep(0.05)
            done = scalar(database_url, "SELECT COALESCE(sum(rows_done), 0) FROM expandcontract.backfill_ranges")
        assert 600 <= done < 3000, f"backfill did not get going in time ({done} rows)"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    # the server ends the killed client's session once its current statement returns
    deadline = time.monotonic() + 10
    while control.status(database_url)[0]["live_processes"] and time.monotonic() < deadline:
        time.sleep(0.05)
    partial = touched(database_url)
    assert set(partial) == {0, 1} and partial[1] >= done  # committed batches stayed; nothing done twice
    assert scalar(database_url, "SELECT count(*) FROM expandcontract.revision_state WHERE phase = 'migrate'") == 0
    # status says interrupted (no live process), never "running"
    assert control.status(database_url)[0]["state"] == "interrupted"
    # plain `alembic upgrade migrate@head` again: resumes at once, no row twice
    rerun = subprocess.run(alembic, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    assert touched(database_url) == {1: 3000}
    assert scalar(database_url, "SELECT count(*) FROM expandcontract.revision_state WHERE phase = 'migrate'") == 1
    assert "backfill items-verified.items" in rerun.stderr  # log lines when stderr is not a terminal
