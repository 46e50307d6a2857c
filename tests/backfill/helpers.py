"""Shared helpers for the backfill tests: tables whose rows count their own updates."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import replace
from typing import Any

from expandcontract.config import BackfillConfig
from expandcontract.db.connect import connect

# Short batches so a few thousand rows take many batches; short signal timeouts for fail-closed tests.
FAST = BackfillConfig(
    batch_time_ms=20,
    initial_batch_size=50,
    min_batch_size=5,
    max_batch_size=500,
    check_interval_s=0.2,
    reconnect_timeout_s=60.0,
    max_batch_fraction=0.0,  # tiny tables: keep the batches these tests reason about
)


def config(**kw: Any) -> BackfillConfig:
    return replace(FAST, **kw)


CURRENT_TEST: list[Any] = []  # the running test's node (tests/backfill/conftest.py)


def start_backfill(
    url: str, spec: Any, cfg: BackfillConfig
) -> tuple[threading.Thread, list[dict[str, Any]], list[BaseException]]:
    """`api.run` in a thread; the test's teardown cancels it and joins it before the database goes."""
    from expandcontract.backfill import api

    events: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            api.run(url, spec, cfg, events.append)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True, name=f"backfill {spec.name}")
    thread.start()

    def stop() -> None:
        if not thread.is_alive():
            return
        with contextlib.suppress(Exception), connect(url) as conn:
            conn.execute("UPDATE expandcontract.backfills SET requested = 'cancel' WHERE name = %s", (spec.name,))
            conn.commit()
        thread.join(60)
        assert not thread.is_alive(), f"backfill thread {spec.name} still running after cancel"

    if CURRENT_TEST:
        CURRENT_TEST[-1].addfinalizer(stop)  # runs before the fixtures' teardown (the database drop)
    return thread, events, errors


COUNTING = """
CREATE TABLE {t} ({cols}, v int, flag boolean, touched int NOT NULL DEFAULT 0);
CREATE FUNCTION {t}_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.touched := OLD.touched + 1; RETURN NEW; END $$;
CREATE TRIGGER {t}_count BEFORE UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION {t}_count();
"""


def make_table(url: str, name: str = "items", rows: int = 2000, key: str = "bigint", gaps: int = 1) -> None:
    """A table whose trigger counts how often each row was updated (`touched`)."""
    cols = {
        "bigint": "id bigint PRIMARY KEY",
        "uuid": "id uuid PRIMARY KEY DEFAULT gen_random_uuid()",
        "text": "id text PRIMARY KEY",
        "composite": "a int NOT NULL, b text NOT NULL, PRIMARY KEY (a, b)",
    }[key]
    fill = {
        "bigint": f"INSERT INTO {name} (id, v) SELECT g * {gaps}, g FROM generate_series(1, {rows}) g",
        "uuid": f"INSERT INTO {name} (v) SELECT g FROM generate_series(1, {rows}) g",
        "text": f"INSERT INTO {name} (id, v) SELECT 'k' || g, g FROM generate_series(1, {rows}) g",
        "composite": f"INSERT INTO {name} (a, b, v) SELECT g % 7, 'x' || g, g FROM generate_series(1, {rows}) g",
    }[key]
    with connect(url) as conn:
        conn.execute(COUNTING.format(t=name, cols=cols))
        conn.execute(fill)
        conn.execute(f"ANALYZE {name}")
        conn.commit()


def touched(url: str, name: str = "items") -> dict[int, int]:
    """{times updated: number of rows}."""
    with connect(url) as conn:
        rows = conn.execute(f"SELECT touched, count(*) FROM {name} GROUP BY 1").fetchall()
    return {int(t): int(c) for t, c in rows}


def scalar(url: str, query: str) -> Any:
    with connect(url) as conn:
        row = conn.execute(query).fetchone()
    return row[0] if row else None


def slow_function(url: str) -> None:
    """`slow(v)`: ~1 ms per row (pg_sleep's granularity here), so a few thousand rows take seconds."""
    with connect(url) as conn:
        conn.execute("CREATE FUNCTION slow(x int) RETURNS boolean LANGUAGE sql AS $$ SELECT pg_sleep(0.001) IS NULL $$")
        conn.commit()


def cli(url: str, *args: str, timeout: float = 60) -> Any:
    """`expandcontract --database-url URL ARGS` in another process."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "expandcontract", "--database-url", url, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(predicate: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def rows_done(url: str) -> int:
    return int(scalar(url, "SELECT COALESCE(sum(rows_done), 0) FROM expandcontract.backfill_ranges"))
