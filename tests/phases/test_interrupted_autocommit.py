"""A revision whose autocommit block builds an index CONCURRENTLY, interrupted mid-build on a real
PostgreSQL (the client SIGKILLed, its connection cut, the build backend killed), is finished by a plain
rerun and named exactly by `doctor`.

The build is held deterministically: the index expression calls `gate()`, which waits on an advisory
lock this test holds, so the kill lands while the build is under way (synchronised on pg_stat_activity).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from expandcontract.db.connect import connect
from tests.backfill.helpers import wait_for
from tests.phases.conftest import ProjectFactory, run_cli

GATE_KEY = 4242
TABLE = f"""op.execute("CREATE TABLE orders (id bigint PRIMARY KEY)")
op.execute("INSERT INTO orders SELECT g FROM generate_series(1, 500) g")
op.execute(
    "CREATE FUNCTION gate(x bigint) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS "
    "$$ BEGIN PERFORM pg_advisory_lock_shared({GATE_KEY}); PERFORM pg_advisory_unlock_shared({GATE_KEY}); "
    "RETURN x; END $$"
)"""
INDEX = """op.add_column("orders", sa.Column("note", sa.Text()))
op.execute("COMMENT ON COLUMN orders.note IS 'free text'")
with op.get_context().autocommit_block():
    op.execute("CREATE INDEX CONCURRENTLY ix_orders_gate ON orders (gate(id))")"""


def _popen(factory: ProjectFactory, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "expandcontract", "--database-url", url, *args],
        cwd=factory.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _one(url: str, query: str, params: tuple[Any, ...] = ()) -> Any:
    with connect(url, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
    return row[0] if row else None


@contextmanager
def gate_closed(url: str) -> Iterator[psycopg.Connection[Any]]:
    """Holds the advisory lock every gate() call waits on; release with pg_advisory_unlock or by leaving."""
    conn = psycopg.connect(url, autocommit=True)
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (GATE_KEY,))
        yield conn
    finally:
        conn.close()


def _builder(url: str, exclude: tuple[int, ...] = ()) -> int | None:
    """The backend running CREATE INDEX CONCURRENTLY, waiting on the gate inside the build."""
    row = _one(
        url,
        "SELECT pid FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY ix_orders_gate%%' "
        "AND wait_event_type = 'Lock' AND wait_event = 'advisory' AND NOT (pid = ANY(%s)) "
        "AND datname = current_database()",
        (list(exclude),),
    )
    return int(row) if row is not None else None


def _gone(url: str, pid: int) -> bool:
    return _one(url, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)) == 0


def _index(url: str) -> bool | None:
    """indisvalid of ix_orders_gate, None when it does not exist."""
    return _one(url, "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('ix_orders_gate')")  # type: ignore[no-any-return]


def _heads(factory: ProjectFactory, url: str) -> dict[str, Any]:
    r = run_cli(factory, url, "status", "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def _recorded(url: str, rev: str) -> bool:
    return bool(_one(url, "SELECT count(*) FROM alembic_version WHERE version_num = %s", (rev,)))


@pytest.fixture
def project(factory: ProjectFactory, database_url: str) -> tuple[ProjectFactory, str]:
    factory.new("orders", phases=("expand",), expand=TABLE)
    made = factory.new("orders-gate-idx", phases=("expand",), expand=INDEX)
    r = run_cli(factory, database_url, "run", "expand", "--change", "orders")
    assert r.returncode == 0, r.stderr
    (rev,) = [r.id for r in factory.project().revisions.values() if r.path == made["expand"]]
    return factory, rev


def _start_and_hold(factory: ProjectFactory, url: str) -> tuple[subprocess.Popen[str], int]:
    runner = _popen(factory, url, "run", "expand")
    wait_for(lambda: _builder(url) is not None, timeout=60, what="the concurrent build to wait on the gate")
    pid = _builder(url)
    assert pid is not None
    return runner, pid


def _kill(runner: subprocess.Popen[str]) -> None:
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=30)


def _doctor(factory: ProjectFactory, url: str, *args: str) -> tuple[int, list[dict[str, Any]]]:
    r = run_cli(factory, url, "doctor", "--format", "json", *args)
    return r.returncode, json.loads(r.stdout)["findings"]


def _part_applied(findings: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [f for f in findings if f["kind"] == "part-applied-revision"]
    return found


@pytest.mark.parametrize("finish", ["rerun", "doctor-fix"])
def test_client_killed_build_finished_index_valid_but_unrecorded(
    project: tuple[ProjectFactory, str], database_url: str, finish: str
) -> None:
    factory, rev = project
    with gate_closed(database_url) as gate:
        runner, builder = _start_and_hold(factory, database_url)
        _kill(runner)
        gate.execute("SELECT pg_advisory_unlock(%s)", (GATE_KEY,))
        wait_for(lambda: _gone(database_url, builder), timeout=60, what="the orphaned build to finish")
    # state (a): the index is VALID, the statements before the block committed, alembic_version behind
    assert _index(database_url) is True and not _recorded(database_url, rev)
    assert _one(database_url, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'note'") == 1
    code, findings = _doctor(factory, database_url)
    found = _part_applied(findings)
    assert code == 1
    assert rev in found["message"] and "statement(s) 1, 2 committed" in found["message"]
    assert "ix_orders_gate is VALID" in found["message"]
    assert "statement 3 (CREATE INDEX CONCURRENTLY" in found["message"]
    if finish == "rerun":
        r = run_cli(factory, database_url, "run", "expand")
        assert r.returncode == 0, r.stderr
        assert "was committed by an interrupted run; skipped" in r.stderr
        assert "counted as built" in r.stderr
    else:
        code, findings = _doctor(factory, database_url, "--fix")
        assert _part_applied(findings)["fixed"] is True, findings
        assert code == 0, findings
    assert _recorded(database_url, rev) and _index(database_url) is True
    assert _one(database_url, "SELECT count(*) FROM expandcontract.step_progress") == 0
    code, findings = _doctor(factory, database_url)
    assert code == 0 and not [f for f in findings if f["severity"] == "problem"], findings


def test_client_killed_then_build_backend_killed_leaves_invalid_index_rerun_rebuilds(
    project: tuple[ProjectFactory, str], database_url: str
) -> None:
    factory, rev = project
    with gate_closed(database_url) as gate:
        runner, builder = _start_and_hold(factory, database_url)
        _kill(runner)
        gate.execute("SELECT pg_terminate_backend(%s)", (builder,))
        wait_for(lambda: _gone(database_url, builder), timeout=60, what="the build backend to die")
    # state (b): INVALID, the statements before the block committed, alembic_version behind
    assert _index(database_url) is False and not _recorded(database_url, rev)
    code, findings = _doctor(factory, database_url)
    assert code == 1 and "ix_orders_gate is INVALID" in _part_applied(findings)["message"]
    assert not [f for f in findings if f["kind"] == "invalid-index"]  # named once, by the revision's finding
    r = run_cli(factory, database_url, "run", "expand")
    assert r.returncode == 0, r.stderr
    assert "dropping INVALID index ix_orders_gate" in r.stderr
    assert _recorded(database_url, rev) and _index(database_url) is True


def test_rerun_cancels_an_orphaned_build_still_running_then_builds_again(
    project: tuple[ProjectFactory, str], database_url: str
) -> None:
    factory, rev = project
    with gate_closed(database_url) as gate:
        runner, orphan = _start_and_hold(factory, database_url)
        _kill(runner)
        assert not _gone(database_url, orphan)  # the backend builds on without its client
        code, findings = _doctor(factory, database_url)
        assert code == 1
        assert f"still being built by session(s) {orphan} (orphaned)" in _part_applied(findings)["message"]
        rerun = _popen(factory, database_url, "run", "expand")
        try:
            wait_for(lambda: _gone(database_url, orphan), timeout=60, what="the rerun to cancel the orphaned build")
            wait_for(
                lambda: _builder(database_url, exclude=(orphan,)) is not None,
                timeout=60,
                what="the rerun's own build",
            )
            gate.execute("SELECT pg_advisory_unlock(%s)", (GATE_KEY,))
            _out, err = rerun.communicate(timeout=120)
        finally:
            if rerun.poll() is None:
                rerun.kill()
                rerun.wait()
    assert rerun.returncode == 0, err
    assert "cancelling them before building it again" in err
    assert _recorded(database_url, rev) and _index(database_url) is True


def test_cut_connection_mid_build_cleans_up_without_hanging_and_rerun_finishes(
    project: tuple[ProjectFactory, str], database_url: str
) -> None:
    factory, rev = project
    with gate_closed(database_url) as gate:
        runner, builder = _start_and_hold(factory, database_url)
        gate.execute("SELECT pg_terminate_backend(%s)", (builder,))  # the runner's own connection
        _out, err = runner.communicate(timeout=60)  # bounded: the cleanup must not wait on anything
    assert runner.returncode == 1, err
    assert "PARTLY applied" in err and "Traceback" not in err
    assert _index(database_url) is None  # the cleanup dropped what the cut build left
    outcome = _one(database_url, "SELECT outcome FROM expandcontract.runs ORDER BY id DESC LIMIT 1")
    assert outcome == "failed"
    r = run_cli(factory, database_url, "run", "expand")
    assert r.returncode == 0, r.stderr
    assert _recorded(database_url, rev) and _index(database_url) is True


def test_cleanup_after_a_lost_connection_stops_a_build_still_running_instead_of_waiting_on_it(
    project: tuple[ProjectFactory, str], database_url: str
) -> None:
    """The client saw its connection fail while the server still builds (a network cut): the cleanup must
    cancel that build before dropping the index; a DROP INDEX CONCURRENTLY queued behind it waits forever."""
    import threading

    from expandcontract.config import DDLConfig
    from expandcontract.phases.locks import LockGuard

    del project  # the table and gate() exist
    statement = "CREATE INDEX CONCURRENTLY ix_orders_gate ON orders (gate(id))"
    errors: list[BaseException] = []
    notes: list[str] = []
    with gate_closed(database_url), psycopg.connect(database_url, autocommit=True) as building:

        def build() -> None:
            try:
                building.execute(statement)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=build, daemon=True)
        thread.start()
        wait_for(lambda: _builder(database_url) is not None, timeout=60, what="the build to wait on the gate")
        guard = LockGuard(DDLConfig(retry_budget_s=5.0), notify=notes.append)
        with psycopg.connect(database_url, autocommit=True) as lost:  # stands for the runner's broken connection
            cleanup = threading.Thread(target=guard._drop_invalid, args=(lost, statement), daemon=True)
            cleanup.start()
            cleanup.join(60)
            finished = not cleanup.is_alive()
        thread.join(30)
    assert finished, "the cleanup hung behind the running build"
    assert errors and isinstance(errors[0], psycopg.errors.QueryCanceled), errors
    assert _index(database_url) is None, notes
    assert any("dropped INVALID index ix_orders_gate" in n for n in notes), notes
    assert not any("did not stop on cancel" in n for n in notes), notes  # a cancel was enough
