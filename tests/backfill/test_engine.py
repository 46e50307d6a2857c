"""The batch loop against a real PostgreSQL: exactly once, keys, re-runs, inserts, bad input."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from expandcontract.backfill import api
from expandcontract.backfill.checkpoint import ensure_schema
from expandcontract.backfill.errors import BackfillFailed, BackfillInputError
from expandcontract.backfill.spec import Spec
from expandcontract.db.connect import connect
from tests.backfill.helpers import (
    FAST,
    config,
    make_table,
    rows_done,
    scalar,
    slow_function,
    start_backfill,
    touched,
    wait_for,
)

pytestmark = pytest.mark.integration


def spec(**kw: Any) -> Spec:
    base: dict[str, Any] = {"name": "t.items", "table": "items", "values": {"flag": "v % 2 = 0"}}
    base.update(kw)
    return Spec(**base)


@pytest.mark.parametrize(("key", "gaps"), [("bigint", 7), ("uuid", 1), ("composite", 1), ("text", 1)])
def test_every_row_exactly_once_for_each_key_type(database_url: str, key: str, gaps: int) -> None:
    make_table(database_url, rows=3000, key=key, gaps=gaps)
    events: list[dict[str, Any]] = []
    result = api.run(database_url, spec(), FAST, events.append)
    assert result.state == "done"
    assert touched(database_url) == {1: 3000}
    assert scalar(database_url, "SELECT count(*) FROM items WHERE flag IS DISTINCT FROM (v % 2 = 0)") == 0
    assert result.batches >= 6  # batched (max 500 keys per batch), not one statement
    assert events[-1]["state"] == "done" and events[-1]["rows_done"] == 3000


def test_rerun_of_a_finished_backfill_touches_no_row(database_url: str) -> None:
    make_table(database_url, rows=500)
    api.run(database_url, spec(), FAST, lambda e: None)
    again = api.run(database_url, spec(), FAST, lambda e: None)
    assert again.rows_done == 0
    assert touched(database_url) == {1: 500}


def test_where_limits_the_rows_and_session_setting_is_on(database_url: str) -> None:
    make_table(database_url, rows=1000)
    with connect(database_url) as conn:
        conn.execute("SET session_replication_role = replica")  # setup writes: no triggers
        conn.execute("UPDATE items SET flag = true WHERE v <= 400")
        conn.execute("RESET session_replication_role")
        # a dual-write trigger guarded by the session setting must not fire for the backfill's writes
        conn.execute("ALTER TABLE items ADD COLUMN fired int NOT NULL DEFAULT 0")
        conn.execute(
            "CREATE FUNCTION guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF current_setting('expandcontract.backfill', true) IS DISTINCT FROM 'on' THEN "
            "NEW.fired := OLD.fired + 1; END IF; RETURN NEW; END $$"
        )
        conn.execute("CREATE TRIGGER guard BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION guard()")
        conn.commit()
    result = api.run(database_url, spec(values={"flag": "false"}, where="flag IS NULL"), FAST, lambda e: None)
    assert result.rows_done == 600
    assert touched(database_url) == {0: 400, 1: 600}
    assert scalar(database_url, "SELECT sum(fired) FROM items") == 0


def test_upper_key_is_fixed_so_it_ends_under_sustained_inserts(database_url: str) -> None:
    make_table(database_url, rows=2000)
    stop = threading.Event()
    inserted = [0]

    def insert() -> None:
        with connect(database_url, autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("INSERT INTO items (id, v) SELECT max(id) + 1, 0 FROM items")
                inserted[0] += 1

    writer = threading.Thread(target=insert)
    writer.start()
    try:
        t0 = time.monotonic()
        result = api.run(database_url, spec(), FAST, lambda e: None)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        writer.join()
    assert result.state == "done" and elapsed < 30
    assert inserted[0] > 50
    upper = int(scalar(database_url, "SELECT upper_bound[1] FROM expandcontract.backfills"))
    assert scalar(database_url, f"SELECT count(*) FROM items WHERE id <= {upper} AND touched <> 1") == 0
    assert scalar(database_url, f"SELECT count(*) FROM items WHERE id > {upper} AND touched <> 0") == 0
    assert scalar(database_url, f"SELECT count(*) FROM items WHERE id > {upper}") > 0  # inserted while it ran


def test_empty_table_is_done_at_once(database_url: str) -> None:
    make_table(database_url, rows=0)
    assert api.run(database_url, spec(), FAST, lambda e: None).state == "done"


def test_sql_failing_on_some_rows_names_the_key_and_keeps_the_checkpoint(database_url: str) -> None:
    make_table(database_url, rows=1000)
    bad = spec(values={"v": "100 / (v - 637)"})
    with pytest.raises(BackfillFailed) as err:
        api.run(database_url, bad, FAST, lambda e: None)
    message = str(err.value)
    assert "(id) = 637" in message and "division by zero" in message
    assert scalar(database_url, "SELECT count(*) FROM items WHERE touched = 1") == 636
    assert scalar(database_url, "SELECT status FROM expandcontract.backfills") == "failed"
    # the developer fixes the SQL: the backfill resumes from the checkpoint, no row done twice
    fixed = spec(values={"v": "100 / NULLIF(v - 637, 0)"})
    result = api.run(database_url, fixed, FAST, lambda e: None)
    assert result.rows_done == 364
    assert touched(database_url) == {1: 1000}


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"values": {"nope": "1"}}, "unknown column 'nope' in public.items; columns are: id, v, flag, touched"),
        ({"values": {"id": "1"}}, "assigns 'id', a column of the key"),
        ({"values": {"v": "missing + 1"}}, 'column "missing" does not exist'),
        ({"where": "nope IS NULL"}, 'column "nope" does not exist'),
        ({"table": "nosuch"}, 'table "nosuch" does not exist'),
        ({"key": ("v",)}, "key=(v) on public.items is not backed by a unique NOT NULL btree index"),
        ({"values": {}}, "needs values="),
    ],
)
def test_bad_input_is_one_line_with_the_fix(database_url: str, kw: dict[str, Any], fragment: str) -> None:
    make_table(database_url, rows=10)
    with pytest.raises(BackfillInputError) as err:
        api.run(database_url, spec(**kw), FAST, lambda e: None)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)
    assert err.value.exit_code == 2
    assert touched(database_url) == {0: 10}


def test_table_without_usable_key_is_refused(database_url: str) -> None:
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE heap (id int, u int UNIQUE, v int)")  # unique but nullable
        conn.commit()
    with pytest.raises(BackfillInputError, match="has no primary key and no unique index on NOT NULL columns"):
        api.run(database_url, Spec("x", "heap", {"v": "1"}), FAST, lambda e: None)


def test_unique_not_null_key_is_used_when_there_is_no_primary_key(database_url: str) -> None:
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE heap (code text NOT NULL UNIQUE, v int)")
        conn.execute("INSERT INTO heap SELECT 'c' || g, g FROM generate_series(1, 300) g")
        conn.commit()
    result = api.run(database_url, Spec("x", "heap", {"v": "v + 1"}), config(), lambda e: None)
    assert result.rows_done == 300


def test_statement_timeout_halves_the_batch(database_url: str) -> None:
    make_table(database_url, rows=300)
    with connect(database_url) as conn:
        # 5 ms per row: a batch of 50 rows takes 250 ms, over the 10 x 20 ms statement_timeout
        conn.execute("CREATE FUNCTION slow(x int) RETURNS boolean LANGUAGE sql AS $$ SELECT pg_sleep(0.005) IS NULL $$")
        conn.commit()
    events: list[dict[str, Any]] = []
    result = api.run(database_url, spec(values={"flag": "slow(v)"}), config(initial_batch_size=50), events.append)
    assert result.state == "done"
    assert any("exceeded 200 ms; halved" in (e["throttled_reason"] or "") for e in events)
    assert touched(database_url) == {1: 300}


def test_same_name_with_other_sql_after_done_is_refused(database_url: str) -> None:
    make_table(database_url, rows=50)
    api.run(database_url, spec(), FAST, lambda e: None)
    with pytest.raises(BackfillInputError, match=r"already finished with values=.*Give it its own name="):
        api.run(database_url, spec(values={"v": "0"}), FAST, lambda e: None)


def test_key_override_walks_a_unique_composite_index(database_url: str) -> None:
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE pairs (id bigint PRIMARY KEY, a int NOT NULL, b text NOT NULL, v int)")
        conn.execute("CREATE UNIQUE INDEX pairs_ab ON pairs (a, b)")
        conn.execute("INSERT INTO pairs SELECT g, g % 13, 'b' || g, NULL FROM generate_series(1, 1500) g")
        conn.commit()
    result = api.run(database_url, Spec("p", "pairs", {"v": "a"}, key=("a", "b")), FAST, lambda e: None)
    assert result.rows_done == 1500
    assert scalar(database_url, "SELECT key_columns FROM expandcontract.backfills") == ["a", "b"]
    assert scalar(database_url, "SELECT count(*) FROM pairs WHERE v IS DISTINCT FROM a") == 0


def test_a_terminated_session_reconnects_and_finishes(database_url: str) -> None:
    make_table(database_url, rows=3000)
    slow_function(database_url)
    with connect(database_url) as conn:
        ensure_schema(conn)
    thread, events, errors = start_backfill(database_url, spec(values={"flag": "slow(v)"}), config(max_batch_size=100))
    wait_for(lambda: rows_done(database_url) > 300, what="first batches")
    killed = scalar(
        database_url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name LIKE 'expandcontract backfill%' AND datname = current_database()",
    )
    assert killed == 1
    thread.join(60)
    assert not thread.is_alive() and not errors, errors
    assert touched(database_url) == {1: 3000}
    # reported before reconnecting; the server's words depend on whether the session was mid-statement
    # ("terminating connection ...") or idle ("server closed the connection unexpectedly")
    assert any((e["throttled_reason"] or "").startswith("connection lost (") for e in events), events


def test_batches_lock_at_most_a_fraction_of_the_table(database_url: str) -> None:
    make_table(database_url, rows=3000)  # analyzed: reltuples = 3000
    events: list[dict[str, Any]] = []
    cfg = config(max_batch_fraction=0.01, max_batch_size=10_000, batch_time_ms=1000, initial_batch_size=1000)
    result = api.run(database_url, spec(), cfg, events.append)
    assert result.state == "done" and touched(database_url) == {1: 3000}
    assert max(e["batch_size"] for e in events) == 30
    assert result.batches >= 100


@pytest.mark.integration
def test_a_step_that_keeps_failing_ends_the_backfill_with_its_reason(database_url: str) -> None:
    """Transient failures (a timeout on our own bookkeeping rows) are retried, but not forever: after
    reconnect_timeout_s of nothing but failures the backfill stops, says why, and keeps its checkpoint."""
    make_table(database_url, rows=3000)
    slow_function(database_url)
    with connect(database_url) as conn:
        ensure_schema(conn)
    cfg = config(max_batch_size=100, reconnect_timeout_s=2.0)
    thread, _events, errors = start_backfill(database_url, spec(values={"flag": "slow(v)"}), cfg)
    wait_for(lambda: rows_done(database_url) > 100, what="first batches")
    with connect(database_url) as holder:
        holder.execute("LOCK TABLE expandcontract.backfill_ranges IN ACCESS EXCLUSIVE MODE")  # never let go
        thread.join(60)
        holder.rollback()
    assert not thread.is_alive()
    (err,) = errors
    assert "every step failed for" in str(err) and "resume from the checkpoint" in str(err)
    assert 0 < rows_done(database_url) < 3000  # what was done stays done
