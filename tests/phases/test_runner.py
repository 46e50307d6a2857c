"""The runner on a real PostgreSQL: lanes, lock_timeout with retries, waiting out lock holders, the
runner lock, failures rolled back, CONCURRENTLY builds that leave nothing INVALID, the audit log."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest

from expandcontract.db.connect import connect
from expandcontract.errors import GateUnknown, LockBudgetExhausted, PhaseFailed, UsageError
from expandcontract.phases.doctor import diagnose
from expandcontract.phases.run import run_downgrade, run_phase
from expandcontract.phases.runner import Runner, RunnerBusy
from expandcontract.phases.status import project_status
from tests.backfill.helpers import wait_for
from tests.phases.conftest import Notes, ProjectFactory

TABLE = 'op.execute("CREATE TABLE users (id bigint PRIMARY KEY, name text)")'
TABLE_DOWN = 'op.execute("DROP TABLE users")'


def _fast(project, **ddl):  # type: ignore[no-untyped-def]
    cfg = dataclasses.replace(project.config, ddl=dataclasses.replace(project.config.ddl, **ddl))
    project.config = cfg
    return project


@contextmanager
def holding(url: str, sql: str, seconds: float, app: str = "holder-app") -> Iterator[threading.Event]:
    """Another session holds the locks `sql` takes for `seconds`, in a thread. Yields an event set right
    before the holder lets go (so a test can tell what happened after the release, without a clock)."""
    started = threading.Event()
    released = threading.Event()

    def hold() -> None:
        with psycopg.connect(url, application_name=app) as conn:
            conn.execute(sql)
            started.set()
            time.sleep(seconds)  # the holder's own work: a long transaction, not a synchronisation
            released.set()
            conn.rollback()

    t = threading.Thread(target=hold)
    t.start()
    started.wait(10)
    try:
        yield released
    finally:
        t.join()


def _holder_older_than(url: str, app: str, ms: int) -> bool:
    row = _one(
        url,
        f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}' AND datname = current_database() "
        f"AND clock_timestamp() - xact_start > interval '{ms} ms'",
    )
    return bool(row)


def _one(url: str, sql: str) -> object:
    with connect(url) as conn:
        row = conn.execute(sql).fetchone()
    return row[0] if row else None


def test_run_each_phase_up_to_a_change(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None], notes: Notes
) -> None:
    factory.new("users", phases=("expand",), expand=TABLE, expand_down=TABLE_DOWN)
    factory.new(
        "users-email",
        expand='op.execute("ALTER TABLE users ADD COLUMN email text")',
        expand_down='op.execute("ALTER TABLE users DROP COLUMN email")',
        migrate="op.execute(\"UPDATE users SET email = 'x' WHERE email IS NULL\")",
        contract='op.execute("ALTER TABLE users DROP COLUMN name")',
        contract_down='op.execute("ALTER TABLE users ADD COLUMN name text")',
    )
    factory.new(
        "users-age",
        phases=("expand",),
        expand='op.execute("ALTER TABLE users ADD COLUMN age int")',
        expand_down='op.execute("ALTER TABLE users DROP COLUMN age")',
    )
    project = factory.project()
    r = run_phase(project, database_url, "expand", "users-email", notify=notify)
    assert [o.revision for o in r.applied] == [project.change(c).expand.id for c in ("users", "users-email")]  # type: ignore[union-attr]
    st = {c.change: c.phases for c in project_status(project, database_url).changes}
    assert st["users-email"] == {"expand": "applied", "migrate": "pending", "contract": "pending"}
    assert st["users-age"]["expand"] == "pending"
    assert st["users"] == {"expand": "applied", "migrate": "absent", "contract": "absent"}
    assert any("no rollout target configured" in n for n in notes) is False  # expand is never gated
    run_phase(project, database_url, "migrate", None, notify=notify)
    assert any("no rollout target configured: the migrate gate is skipped" in n for n in notes)
    r = run_phase(project, database_url, "contract", None, notify=notify)
    # contract of users-email only needs its own migrate; users-age has no contract; expand lane left alone
    st = {c.change: c.phases for c in project_status(project, database_url).changes}
    assert st["users-email"]["contract"] == "applied" and st["users-age"]["expand"] == "pending"
    with connect(database_url) as conn:
        runs = conn.execute(
            "SELECT command, phase, outcome, array_length(revisions, 1) FROM expandcontract.runs ORDER BY id"
        ).fetchall()
    assert runs == [
        ("run", "expand", "succeeded", 2),
        ("run", "migrate", "succeeded", 1),
        ("run", "contract", "succeeded", 1),
    ]
    assert diagnose(project, database_url) == []


def test_dry_run_changes_nothing(factory: ProjectFactory, database_url: str, notify: Callable[[str], None]) -> None:
    factory.new("users", phases=("expand",), expand=TABLE)
    r = run_phase(factory.project(), database_url, "expand", None, notify=notify, dry_run=True)
    assert len(r.plan.steps) == 1 and r.applied == []
    assert _one(database_url, "SELECT to_regclass('users')") is None


def test_ddl_waits_out_a_long_lock_holder_instead_of_queueing(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None], notes: Notes
) -> None:
    factory.new("users", phases=("expand",), expand=TABLE)
    factory.new("users-email", phases=("expand",), expand='op.execute("ALTER TABLE users ADD COLUMN email text")')
    project = factory.project()
    run_phase(project, database_url, "expand", "users", notify=notify)
    with holding(database_url, "SELECT * FROM users", seconds=1.0) as released:
        wait_for(lambda: _holder_older_than(database_url, "holder-app", 250), what="a long holder (> 200 ms)")
        r = run_phase(project, database_url, "expand", None, notify=notify)
        assert released.is_set()  # the ALTER ran only once the holder had let go
    assert r.applied[0].attempts == 1  # it never hit lock_timeout: it waited for the holder first
    assert any("waiting for session" in n and "holder-app" in n for n in notes)


def test_lock_timeout_rolls_back_and_retries_with_backoff(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None], notes: Notes
) -> None:
    factory.new("users", phases=("expand",), expand=TABLE)
    factory.new(
        "users-email",
        phases=("expand",),
        expand='op.execute("CREATE TABLE audit (id int)")\nop.execute("ALTER TABLE users ADD COLUMN email text")',
    )
    project = _fast(factory.project(), holder_wait_s=0.0, lock_timeout_ms=50, retry_base_ms=50, retry_max_ms=100)
    run_phase(project, database_url, "expand", "users", notify=notify)
    with holding(database_url, "SELECT * FROM users", seconds=0.8):
        r = run_phase(project, database_url, "expand", None, notify=notify)
    assert r.applied[0].attempts > 1
    assert any("could not lock users within lock_timeout 50ms; rolled back, retry 1/" in n for n in notes)
    # the retried revision ran once in full: its first statement was rolled back on each failure
    assert _one(database_url, "SELECT count(*) FROM pg_class WHERE relname = 'audit'") == 1


def test_retry_budget_exhausted_reports_the_blocking_session(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None]
) -> None:
    factory.new("users", phases=("expand",), expand=TABLE)
    factory.new("users-email", phases=("expand",), expand='op.execute("ALTER TABLE users ADD COLUMN email text")')
    project = _fast(
        factory.project(), holder_wait_s=0.0, lock_timeout_ms=20, retries=3, retry_base_ms=10, retry_max_ms=20
    )
    run_phase(project, database_url, "expand", "users", notify=notify)
    with (
        holding(database_url, "SELECT * FROM users", seconds=2.0, app="reporting-job"),
        pytest.raises(LockBudgetExhausted) as err,
    ):
        run_phase(project, database_url, "expand", None, notify=notify)
    msg = str(err.value)
    assert "gave up after 4 attempts" in msg and "reporting-job" in msg and "AccessShareLock on users" in msg
    assert err.value.blockers and err.value.blockers[0]["application_name"] == "reporting-job"
    assert err.value.exit_code == 1
    assert _one(database_url, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'email'") == 0
    assert _one(database_url, "SELECT outcome FROM expandcontract.runs ORDER BY id DESC LIMIT 1") == "failed"


def test_writers_are_not_stalled_behind_waiting_ddl(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None]
) -> None:
    """While our DDL waits for a reader, a writer's insert is not queued behind it (a naive ALTER would
    queue the writer for the reader's whole transaction)."""
    factory.new("users", phases=("expand",), expand=TABLE)
    factory.new("users-email", phases=("expand",), expand='op.execute("ALTER TABLE users ADD COLUMN email text")')
    project = _fast(factory.project(), holder_wait_s=0.2, lock_timeout_ms=50, retry_base_ms=50, retry_max_ms=100)
    run_phase(project, database_url, "expand", "users", notify=notify)
    with holding(database_url, "SELECT * FROM users", seconds=1.5) as released:
        done = threading.Event()
        runner = threading.Thread(
            target=lambda: (run_phase(project, database_url, "expand", None, notify=notify), done.set())
        )
        runner.start()
        # The server judges the stall: a writer queued behind our waiting ALTER for 500 ms would fail with
        # lock_timeout (a naive ALTER would queue it for the reader's whole 1.5 s transaction).
        with psycopg.connect(database_url, autocommit=True) as w:
            w.execute("SET lock_timeout = '500ms'")
            i = 0
            while not released.is_set():
                w.execute("INSERT INTO users (id) VALUES (%s)", (i,))
                i += 1
        runner.join()
    assert done.is_set() and i > 0
    assert _one(database_url, "SELECT count(*) FROM users") == i


def test_a_second_runner_waits_then_fails_clearly(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None]
) -> None:
    factory.new("users", phases=("expand",), expand=TABLE)
    project = factory.project()
    first = Runner(project, database_url, notify)
    with first.locked():
        second = Runner(project, database_url, notify, lock_wait_s=0.3)
        with (
            pytest.raises(RunnerBusy, match="another expandcontract runner holds the runner lock: session"),
            second.locked(),
        ):
            pass
    with second.locked():  # released when the first closes its session
        pass


def test_a_failing_revision_is_rolled_back_and_reported(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None]
) -> None:
    paths = factory.new(
        "users", phases=("expand",), expand=TABLE + '\nop.execute("ALTER TABLE nosuch ADD COLUMN x int")'
    )
    project = factory.project()
    with pytest.raises(PhaseFailed) as err:
        run_phase(project, database_url, "expand", None, notify=notify)
    msg = str(err.value)
    assert str(paths["expand"]) in msg and 'relation "nosuch" does not exist' in msg and "rolled back" in msg
    assert _one(database_url, "SELECT to_regclass('users')") is None
    st = project_status(project, database_url).changes[0]
    assert st.phases["expand"] == "failed"


CIC = (
    "with op.get_context().autocommit_block():\n"
    '    op.execute("CREATE UNIQUE INDEX CONCURRENTLY ix_users_name ON users (name)")'
)


def test_failed_concurrent_build_leaves_no_invalid_index(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None], notes: Notes
) -> None:
    factory.new("users", phases=("expand",), expand=TABLE)
    factory.new("users-name-idx", phases=("expand",), expand=CIC)
    project = factory.project()
    run_phase(project, database_url, "expand", "users", notify=notify)
    with connect(database_url) as conn:
        conn.execute("INSERT INTO users VALUES (1, 'dup'), (2, 'dup')")
        conn.commit()
    with pytest.raises(PhaseFailed, match="could not create unique index"):
        run_phase(project, database_url, "expand", None, notify=notify)
    assert _one(database_url, "SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 0
    assert any("dropped INVALID index ix_users_name" in n for n in notes)
    with connect(database_url) as conn:
        conn.execute("UPDATE users SET name = 'other' WHERE id = 2")
        conn.commit()
    run_phase(project, database_url, "expand", None, notify=notify)
    assert _one(database_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_users_name'::regclass") is True


def test_leftover_invalid_index_is_dropped_before_building_again(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None], notes: Notes
) -> None:
    factory.new("users", phases=("expand",), expand=TABLE)
    factory.new("users-name-idx", phases=("expand",), expand=CIC)
    project = factory.project()
    run_phase(project, database_url, "expand", "users", notify=notify)
    with psycopg.connect(database_url, autocommit=True) as conn:  # a crash left an INVALID index behind
        conn.execute("INSERT INTO users VALUES (1, 'dup'), (2, 'dup')")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY ix_users_name ON users (name)")
        conn.execute("DELETE FROM users WHERE id = 2")
    doctor = diagnose(project, database_url)
    assert [f.kind for f in doctor] == ["invalid-index"] and "DROP INDEX CONCURRENTLY" in doctor[0].repair
    run_phase(project, database_url, "expand", None, notify=notify)
    assert any("dropping INVALID index ix_users_name left by an earlier failed" in n for n in notes)
    assert _one(database_url, "SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 0


def test_failure_after_an_autocommit_block_says_partly_applied(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None]
) -> None:
    factory.new("users", phases=("expand",), expand=TABLE)
    factory.new(
        "users-name-idx",
        phases=("expand",),
        expand=CIC.replace("UNIQUE ", "") + '\nop.execute("ALTER TABLE nosuch ADD COLUMN x int")',
    )
    project = factory.project()
    run_phase(project, database_url, "expand", "users", notify=notify)
    with pytest.raises(PhaseFailed, match="PARTLY applied") as err:
        run_phase(project, database_url, "expand", None, notify=notify)
    assert "doctor" in str(err.value)


def test_require_gate_without_a_target_refuses(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None]
) -> None:
    factory.new("users", expand=TABLE)
    project = factory.project()
    project.config = dataclasses.replace(project.config, require_gate=True)
    run_phase(project, database_url, "expand", None, notify=notify)  # expand is never gated
    with pytest.raises(GateUnknown) as err:
        run_phase(project, database_url, "migrate", None, notify=notify)
    assert err.value.exit_code == 4 and "[tool.expandcontract.rollout]" in str(err.value)
    r = run_phase(project, database_url, "migrate", None, notify=notify, skip_gate_reason="hotfix, approved by DBA")
    assert len(r.applied) == 1
    assert (
        _one(database_url, "SELECT skip_gate_reason FROM expandcontract.runs ORDER BY id DESC LIMIT 1")
        == "hotfix, approved by DBA"
    )


def test_downgrade_cascades_across_lanes(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None]
) -> None:
    factory.new("users", expand=TABLE, expand_down=TABLE_DOWN)
    project = factory.project()
    for phase in ("expand", "migrate", "contract"):
        run_phase(project, database_url, phase, None, notify=notify)
    seen = []
    plan = run_downgrade(
        project,
        database_url,
        "users",
        "expand",
        notify=notify,
        confirm=lambda p: seen.append([r.phase for r in p.removed]) or True,
    )
    assert seen == [["contract", "migrate", "expand"]] and plan is not None
    assert _one(database_url, "SELECT to_regclass('users')") is None
    assert project_status(project, database_url).changes[0].phases == {
        "expand": "pending",
        "migrate": "pending",
        "contract": "pending",
    }
    with pytest.raises(UsageError, match="is not applied; nothing to downgrade"):
        run_downgrade(project, database_url, "users", "expand", notify=notify, confirm=lambda p: True)


def test_a_failing_backfill_keeps_its_own_message(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None]
) -> None:
    factory.new("users", phases=("expand",), expand=TABLE)
    factory.new(
        "users-ratio",
        phases=("expand", "migrate"),
        expand='op.execute("ALTER TABLE users ADD COLUMN ratio int")',
        migrate='op.backfill("users", values={"ratio": "100 / (id - 5)"}, where="ratio IS NULL")',
    )
    project = factory.project()
    run_phase(project, database_url, "expand", None, notify=notify)
    with connect(database_url) as conn:
        conn.execute("INSERT INTO users (id) SELECT g FROM generate_series(1, 20) g")
        conn.commit()
    with pytest.raises(PhaseFailed) as err:
        run_phase(project, database_url, "migrate", None, notify=notify)
    msg = str(err.value)
    assert "division by zero" in msg and "PARTLY" not in msg and "5" in msg
    assert err.value.exit_code == 1
    assert _one(database_url, "SELECT count(*) FROM users WHERE ratio IS NOT NULL") == 4  # rows before the bad key
