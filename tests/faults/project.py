"""A user-like project for fault tests: `items` rows count their own updates (`touched`, a trigger), the
expand builds an index CONCURRENTLY in an autocommit block and adds `items.verified`, the migrate
backfills it at ~1 ms per row, so a few thousand rows take seconds and many batches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from expandcontract.config import load_config
from expandcontract.phases import adopt, scaffold
from tests.backfill.helpers import make_table, slow_function
from tests.backfill.project import _fill

SLUG = "items-verified"
EXPAND = """    with op.get_context().autocommit_block():
        op.create_index("items_v_idx", "items", ["v"], postgresql_concurrently=True)
    op.add_column("items", sa.Column("verified", sa.Boolean(), nullable=True))"""
MIGRATE = """    import expandcontract.backfill.op  # noqa: F401  (env.py will import it)
    op.backfill("items", values={"verified": "slow(v) AND v % 2 = 0"})"""
CONTRACT = """    op.alter_column("items", "verified", nullable=False)"""
BACKFILL_SQL = b'SET "verified" = '  # in the backfill's batch UPDATE only
CIC_SQL = b"CREATE INDEX CONCURRENTLY"
CONFIG = """
[tool.expandcontract.backfill]
batch_time_ms = 20
initial_batch_size = 50
max_batch_size = 300
max_batch_fraction = 0.0
reconnect_timeout_s = 60

[tool.expandcontract.connection]
stall_check_s = {stall_check_s}
idle_in_transaction_timeout_ms = {idle_ms}
"""


def make(
    directory: Path, database_url: str, rows: int = 3000, stall_check_s: float = 2.0, idle_ms: int = 60_000
) -> None:
    """stall_check_s = 0 and idle_ms = 0 leave a run as unbounded as before the network bounds."""
    from expandcontract.backfill.checkpoint import ensure_schema
    from expandcontract.db.connect import connect

    make_table(database_url, rows=rows)
    slow_function(database_url)
    with connect(database_url) as conn:
        ensure_schema(conn)
    adopt.init(directory)
    made = scaffold.new(load_config(start=directory), "verify items", SLUG)
    paths = {r.phase: r.path for r in made}
    _fill(paths["expand"], EXPAND)
    _fill(paths["migrate"], MIGRATE)
    _fill(paths["contract"], CONTRACT)
    with (directory / "pyproject.toml").open("a") as fh:
        fh.write(CONFIG.format(stall_check_s=stall_check_s, idle_ms=idle_ms))


def run(directory: Path, url: str, *args: str) -> subprocess.Popen[str]:
    """`expandcontract --database-url URL ARGS` started in the project (stdout/stderr captured)."""
    return subprocess.Popen(
        [sys.executable, "-m", "expandcontract", "--database-url", url, *args],
        cwd=directory,
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float) -> tuple[int | None, str]:
    """Exit code (None: still running after `timeout`, then killed) and stderr."""
    try:
        _out, err = proc.communicate(timeout=timeout)
        return proc.returncode, err
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate()
        return None, err


def holder_of_rows(url: str) -> Any:
    """(pid, state) of the backfill session that holds row locks on items, or None."""
    from tests.backfill.helpers import scalar

    return scalar(
        url,
        "SELECT row(a.pid, a.state)::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.relation = 'items'::regclass AND l.mode = 'RowExclusiveLock' "
        "AND a.application_name LIKE 'expandcontract backfill%' LIMIT 1",
    )
