"""Runs phases against the database, one runner at a time, safely.

- One runner at a time: a session-level advisory lock held on its own autocommit connection (a
  transaction-level lock would be released by the per-migration commits).
- Each revision is one Alembic step in its own transaction, driven through one reused ScriptDirectory.
- DDL waits out long lock holders, then runs under a short lock_timeout; a lock timeout rolls the
  revision back and it is retried with jittered backoff within a budget (see locks.py).
- Every run is written to the audit table `expandcontract.runs`; per-revision state rows are written by
  the env.py hook inside each step's transaction.
- The runner never runs without its lock: before every statement and every backfill batch it checks, in
  that statement's or batch's transaction, that its lock connection still holds the lock. When that
  connection is gone (server restart, pg_terminate_backend) it re-takes the lock, or stops with exit 2
  when another runner has it or ran meanwhile; the audit row is closed either way.
- A revision an interruption left half-applied is finished by a rerun (resume.py, cic.py).
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from expandcontract.db.connect import connect, make_engine
from expandcontract.db.handover import handed_over
from expandcontract.db.watch import lost_connection
from expandcontract.errors import (
    EXIT_USAGE,
    ExpandContractError,
    LockBudgetExhausted,
    PhaseFailed,
    RevisionExited,
)
from expandcontract.names import (
    ATTR_BATCH_GUARD,
    ATTR_BEFORE_MIGRATIONS,
    ATTR_CONFIG,
    ATTR_ON_STEP,
    ATTR_RUN_ID,
    RUNNER_ALIVE_CLASS,
    RUNNER_STEP_KEY,
)
from expandcontract.phases import resume
from expandcontract.phases.locks import LockGuard, backoff_s, blockers, is_lock_timeout
from expandcontract.phases.planner import DowngradePlan, Plan
from expandcontract.phases.project import Project, Revision
from expandcontract.phases.state import (
    ADVISORY_LOCK_KEY,
    SCHEMA,
    ensure_schema_sql,
    runner_lock_holder,
    who,
)

Notify = Callable[[str], None]


@dataclass
class StepOutcome:
    revision: str
    attempts: int
    seconds: float


@dataclass
class RunRecord:
    run_id: int
    applied: list[StepOutcome] = field(default_factory=list)


class RunnerBusy(PhaseFailed):
    pass


class RunnerLockLost(ExpandContractError):
    """The runner lost its lock and could not take it back: it stopped before its next statement or batch."""

    exit_code = EXIT_USAGE


def _describe(holder: tuple[int, str, Any, str] | None) -> str:
    if holder is None:
        return "another session"
    return (
        f"session {holder[0]} ({holder[1] or 'no application_name'} from {holder[3]}, "
        f"connected {holder[2]:%Y-%m-%d %H:%M:%S %Z})"
    )


def _one_line(exc: BaseException) -> str:
    lost = lost_connection(exc)  # a stalled or cut connection, not what SQLAlchemy said after it
    if lost is not None:
        return lost[:400]
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:400]


class Runner:
    """Holds the runner lock and an engine for one command invocation."""

    def __init__(self, project: Project, url: str, notify: Notify, *, lock_wait_s: float = 30.0) -> None:
        self.project = project
        self.url = url
        self.notify = notify
        self.lock_wait_s = lock_wait_s
        self.policy = project.config.ddl
        self._lock_conn: Any = None
        self._lock_pid = 0
        self._run_id: int | None = None
        self._holding = False  # inside locked(): every statement and batch checks the lock
        self._lost: str | None = None  # the lock was lost for good: every further check stops
        self._retaking = threading.Lock()  # `run migrate --workers N`: N batch threads check the lock

    # -- database state ---------------------------------------------------------------------
    def current_heads(self) -> set[str]:
        from alembic.runtime.migration import MigrationContext
        from sqlalchemy.pool import NullPool

        engine = make_engine(self.url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                ctx = MigrationContext.configure(conn)
                heads = set(ctx.get_current_heads())
        except Exception as exc:
            from expandcontract.db.connect import unreachable

            if "OperationalError" in type(exc).__name__:
                raise unreachable(self.url, exc) from None
            raise
        finally:
            engine.dispose()
        return heads

    def applied(self) -> set[str]:
        heads = self.current_heads()
        unknown = heads - set(self.project.revisions)
        if unknown:
            raise PhaseFailed(
                f"the database is at revision {', '.join(sorted(unknown))}, which this checkout does not "
                "have; update your checkout (git pull) before running phases"
            )
        return self.project.ancestors(heads)

    # -- the runner lock ----------------------------------------------------------------------
    @contextmanager
    def locked(self) -> Any:
        conn = connect(self.url, autocommit=True)
        try:
            conn.execute(ensure_schema_sql())
            deadline = time.monotonic() + self.lock_wait_s
            told = False
            while True:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,)).fetchone()
                if row and row[0]:
                    break
                holder = runner_lock_holder(conn)
                desc = _describe(holder)
                if time.monotonic() >= deadline:
                    raise RunnerBusy(
                        f"another expandcontract runner holds the runner lock: {desc}; wait for it to "
                        "finish (see `expandcontract status`), or stop it with "
                        f"SELECT pg_terminate_backend({holder[0] if holder else 'PID'})"
                    )
                if not told:
                    self.notify(f"waiting up to {self.lock_wait_s:.0f}s for the runner lock held by {desc}")
                    told = True
                time.sleep(0.25)
            self._drain(conn, deadline)
            # holding the lock, no other runner is alive: a row still marked running is a killed runner's
            conn.execute(
                f"UPDATE {SCHEMA}.runs SET outcome = 'interrupted', finished_at = clock_timestamp(), "
                "error = coalesce(error, 'the runner process ended without closing its run (killed)') "
                "WHERE outcome = 'running'"
            )
            self._hold(conn)
            self._holding, self._lost = True, None
            yield conn
        finally:
            self._holding = False
            for c in {id(conn): conn, id(self._lock_conn): self._lock_conn}.values():
                if c is not None:
                    with suppress(Exception):
                        c.close()  # closing the session releases the advisory lock
            self._lock_conn = None

    def _drain(self, conn: Any, deadline: float) -> None:
        """Wait until the statement or batch a previous holder (one that lost its lock connection) had
        under way has ended: each holds RUNNER_STEP_KEY shared until its transaction ends."""
        left_ms = max(1000, int((deadline - time.monotonic()) * 1000))
        conn.execute(f"SET lock_timeout = '{left_ms}ms'")
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (RUNNER_STEP_KEY,))
            conn.execute("SELECT pg_advisory_unlock(%s)", (RUNNER_STEP_KEY,))
        except Exception as exc:
            if not is_lock_timeout(exc):
                raise
            raise RunnerBusy(
                "the previous runner's last statement or backfill batch is still running although it lost "
                "the runner lock; wait for it to end (see `expandcontract status`) and re-run"
            ) from None
        finally:
            conn.execute("RESET lock_timeout")

    def check_lock(self, raw: Any) -> None:
        """Before a statement or a backfill batch, in its transaction (`raw`, a psycopg connection): the
        runner still holds its lock, or takes it back, or raises RunnerLockLost."""
        if not self._holding:
            return
        if self._lost is not None:
            raise RunnerLockLost(self._lost)
        pid = self._lock_pid
        row = raw.execute(
            "SELECT pg_advisory_xact_lock_shared(%s), pg_try_advisory_xact_lock_shared(%s, %s)",
            (RUNNER_STEP_KEY, RUNNER_ALIVE_CLASS, pid),
        ).fetchone()
        if row and row[1] is False:  # the lock connection still holds its alive key: it lives, it holds the lock
            return
        with self._retaking:  # one thread takes the lock back; the others find it taken
            if self._lost is not None:
                raise RunnerLockLost(self._lost)
            if self._lock_pid != pid:
                return  # another batch worker of this process took it back meanwhile
            self._retake()

    def _hold(self, conn: Any) -> None:
        """`conn` holds the runner lock: mark it alive for check_lock."""
        self._lock_pid = int(conn.info.backend_pid)
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (RUNNER_ALIVE_CLASS, self._lock_pid))
        self._lock_conn = conn

    def _retake(self) -> None:
        old, self._lock_conn = self._lock_conn, None
        with suppress(Exception):
            old.close()
        why = "its lock connection ended (server restart or pg_terminate_backend)"
        try:
            conn = connect(self.url, autocommit=True)
        except ExpandContractError as exc:
            self._lost = (
                f"the runner lost its lock ({why}) and could not reconnect to take it back: {exc}; stopped "
                "before the next statement or batch. Re-run when the database is back: a backfill resumes "
                "from its checkpoint"
            )
            raise RunnerLockLost(self._lost) from None
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,)).fetchone()
        newer = None
        if row and row[0]:
            got = conn.execute(f"SELECT max(id) FROM {SCHEMA}.runs").fetchone()
            newer = got[0] if got and self._run_id is not None and got[0] > self._run_id else None
            if newer is None:
                self._hold(conn)
                self.notify(
                    f"lost the runner lock ({why}); took it back (session {self._lock_pid}) before the next "
                    "statement or batch"
                )
                return
        holder = runner_lock_holder(conn)
        conn.close()
        other = (
            f"another runner ran meanwhile (run {newer})" if newer else f"another runner has it: {_describe(holder)}"
        )
        self._lost = (
            f"the runner lost its lock ({why}) and {other}; stopped before the next statement or batch so "
            "two runners never work at once. A backfill keeps its checkpoint; see `expandcontract status`, "
            "then re-run"
        )
        raise RunnerLockLost(self._lost)

    # -- audit --------------------------------------------------------------------------------
    def start_audit(
        self,
        command: str,
        phase: str | None,
        change: str | None,
        revisions: list[str],
        gate: dict[str, Any] | None,
        skip_reason: str | None,
    ) -> int:
        import psycopg

        user, host = who()
        audit = self._audit_conn()
        for attempt in (1, 2):
            try:
                row = audit.execute(
                    f"INSERT INTO {SCHEMA}.runs (command, phase, change, os_user, host, revisions, gate, "
                    "skip_gate_reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (command, phase, change, user, host, revisions, json.dumps(gate) if gate else None, skip_reason),
                ).fetchone()
                self._run_id = int(row[0])
                return self._run_id
            except psycopg.errors.UniqueViolation:
                if attempt == 2:
                    raise
                # The id sequence is behind the table (a crash on a server without fsync, a restored dump):
                # move it past the highest id and take the next one. We hold the runner lock: no race.
                audit.execute(
                    f"SELECT setval(pg_get_serial_sequence('{SCHEMA}.runs', 'id'), (SELECT max(id) FROM {SCHEMA}.runs))"
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def finish_audit(
        self,
        run_id: int,
        outcome: str,
        *,
        error: str | None = None,
        failed_revision: str | None = None,
        gate: dict[str, Any] | None = None,
    ) -> None:
        self._audit(
            f"UPDATE {SCHEMA}.runs SET finished_at = clock_timestamp(), outcome = %s, error = %s, "
            "failed_revision = %s, gate = coalesce(%s, gate) WHERE id = %s",
            (outcome, error, failed_revision, json.dumps(gate) if gate else None, run_id),
        )

    def audit_event(self, run_id: int, event: dict[str, Any]) -> None:
        self._audit(
            f"UPDATE {SCHEMA}.runs SET events = events || %s::jsonb WHERE id = %s",
            (json.dumps([event], default=str), run_id),
        )

    def _audit_conn(self) -> Any:
        conn = self._lock_conn
        if conn is None or conn.closed or conn.broken:
            raise RunnerLockLost("the runner lost its lock connection before its audit row was written; re-run")
        return conn

    def _audit(self, query: str, params: tuple[Any, ...]) -> None:
        """On the lock connection, or on a fresh one when it is gone (the audit row is closed either way)."""
        import psycopg

        conn = self._lock_conn
        if conn is not None and not (conn.closed or conn.broken):
            try:
                conn.execute(query, params)
                return
            except psycopg.OperationalError:
                pass
        with connect(self.url, autocommit=True) as fresh:
            fresh.execute(query, params)

    # -- running steps --------------------------------------------------------------------------
    def _alembic(
        self, conn: Any, destination: str, *, upgrade: bool, run_id: int, guard: LockGuard, expect: str | None
    ) -> None:
        from alembic.runtime.environment import EnvironmentContext

        script = self.project.script
        acfg = self.project.alembic_cfg
        acfg.attributes[ATTR_RUN_ID] = run_id
        acfg.attributes[ATTR_BEFORE_MIGRATIONS] = guard.begin_step
        acfg.attributes[ATTR_ON_STEP] = lambda _ctx, _step: guard.finish_step()
        acfg.attributes[ATTR_CONFIG] = self.project.config  # backfill defaults
        acfg.attributes[ATTR_BATCH_GUARD] = self.check_lock

        def fn(rev: Any, _context: Any) -> Any:
            steps = script._upgrade_revs(destination, rev) if upgrade else script._downgrade_revs(destination, rev)
            ids = [s.revision.revision for s in steps]
            if expect is not None and ids != [expect]:
                # Alembic would apply (or undo) more than the one revision this step is for, e.g. a dependency
                # of another lane: refuse before anything runs (the planner should have said so already).
                verb = "upgrade" if upgrade else "downgrade"
                raise PhaseFailed(
                    f"{verb} to {destination} would touch {', '.join(ids) or 'nothing'} instead of {expect} alone; "
                    "nothing was changed. Re-run `expandcontract plan` to see why"
                )
            return steps

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with (
                    handed_over(acfg, conn, self.url),
                    EnvironmentContext(acfg, script, fn=fn, as_sql=False, destination_rev=destination),
                ):
                    script.run_env()
        finally:
            guard.end_step()
            for key in (ATTR_RUN_ID, ATTR_BEFORE_MIGRATIONS, ATTR_ON_STEP, ATTR_BATCH_GUARD):
                acfg.attributes.pop(key, None)

    def upgrade_steps(
        self,
        plan: Plan,
        run_id: int,
        before_step: Callable[[Revision], None] | None = None,
        outcomes: list[StepOutcome] | None = None,
    ) -> list[StepOutcome]:
        """Apply each step of the plan in order, each in its own transaction, with lock retries.
        `outcomes` (if given) receives each applied step as it completes, so a caller still knows
        what was applied when a later step fails or a gate stops the walk."""
        from sqlalchemy.pool import NullPool

        outcomes = [] if outcomes is None else outcomes
        engine = make_engine(self.url, poolclass=NullPool)
        guard = LockGuard(self.policy, notify=self.notify, lock_check=self.check_lock)
        try:
            with engine.connect() as conn:
                for setting in guard.session_settings():
                    conn.exec_driver_sql(setting)
                conn.exec_driver_sql("SET application_name = 'expandcontract runner'")
                conn.commit()
                guard.install(conn)
                for step in plan.steps:
                    if before_step is not None:
                        before_step(step.revision)
                    outcomes.append(self._one_step(conn, step.revision, run_id, guard, upgrade=True))
        finally:
            engine.dispose()
        return outcomes

    def _one_step(
        self, conn: Any, rev: Revision, run_id: int, guard: LockGuard, *, upgrade: bool, destination: str | None = None
    ) -> StepOutcome:
        started = time.monotonic()
        attempt = 0
        verb = "upgrade" if upgrade else "downgrade"
        while True:
            attempt += 1
            guard.committed_in_step = False
            if upgrade:
                done = resume.load_done(conn, rev.id)
                conn.commit()
                guard.prepared = resume.StepLog(rev.id, run_id, done)
            try:
                try:
                    self._alembic(
                        conn, destination or rev.id, upgrade=upgrade, run_id=run_id, guard=guard, expect=rev.id
                    )
                except SystemExit as stop:  # would end the process with its code and no message, audit open
                    raise RevisionExited(
                        f"its {verb}() called sys.exit({stop.code!r}); raise an exception instead"
                    ) from None
            except Exception as exc:
                if conn.in_transaction():
                    conn.rollback()
                if isinstance(exc, ExpandContractError):
                    # our own errors (a cancelled or failed backfill, an unreachable database) already say
                    # what happened and what to do; a backfill resumes from its checkpoint, nothing is half done
                    raise
                elapsed = time.monotonic() - started
                if is_lock_timeout(exc) and not guard.committed_in_step:
                    tables = ", ".join(guard.last_tables) or "its table"
                    if attempt <= self.policy.retries and elapsed < self.policy.retry_budget_s:
                        delay = backoff_s(self.policy, attempt)
                        self.notify(
                            f"{rev.id}: could not lock {tables} within lock_timeout "
                            f"{self.policy.lock_timeout_ms}ms; rolled back, retry {attempt}/{self.policy.retries} "
                            f"in {delay * 1000:.0f}ms"
                        )
                        self.audit_event(run_id, {"revision": rev.id, "event": "lock_timeout", "attempt": attempt})
                        time.sleep(delay)
                        continue
                    found = self._blockers(guard.last_tables)
                    report = (
                        "; ".join(
                            f"pid {b['pid']} ({b['application_name'] or 'no application_name'}, "
                            f"transaction {b['xact_age_s']:.1f}s, {b['state']}, holds {b['mode']} on {b['table']}, "
                            f"query fingerprint {b['query_fingerprint'] or 'none'})"
                            for b in found
                        )
                        or "no blocking session left (the lock was released just now; re-run)"
                    )
                    raise LockBudgetExhausted(
                        f"{verb} of {rev.id} ({rev.path.name}) gave up after {attempt} attempts in "
                        f"{elapsed:.1f}s: could not lock {tables}. Blocking sessions: {report}. Nothing of "
                        f"this revision is applied; re-run when they finish, or end them with "
                        f"pg_terminate_backend(pid)",
                        found,
                    ) from None
                if guard.committed_in_step:
                    raise PhaseFailed(
                        f"{verb} of {rev.id} ({rev.path}) failed after its autocommit block committed: "
                        f"{_one_line(exc)}. The revision is PARTLY applied and not recorded; "
                        "`expandcontract doctor` shows what committed. Fix the cause, then re-run: the statements "
                        "it committed are skipped and the rest is finished"
                    ) from exc
                raise PhaseFailed(
                    f"{verb} of {rev.id} ({rev.path}) failed: {_one_line(exc)}. It was rolled back: "
                    "nothing of it is applied. Fix the revision and re-run"
                ) from exc
            return StepOutcome(rev.id, attempt, time.monotonic() - started)

    def _blockers(self, tables: list[str]) -> list[dict[str, Any]]:
        if not tables:
            return []
        with connect(self.url, autocommit=True) as side:
            return blockers(side, tables)

    def downgrade(
        self, plan: DowngradePlan, run_id: int, outcomes: list[StepOutcome] | None = None
    ) -> list[StepOutcome]:
        """Undo each revision of the plan in order, one Alembic step (and transaction) each, so a failure
        names the revision that failed and everything before it stays undone and recorded."""
        from sqlalchemy.pool import NullPool

        outcomes = [] if outcomes is None else outcomes
        engine = make_engine(self.url, poolclass=NullPool)
        guard = LockGuard(self.policy, notify=self.notify, lock_check=self.check_lock)
        try:
            with engine.connect() as conn:
                for setting in guard.session_settings():
                    conn.exec_driver_sql(setting)
                conn.exec_driver_sql("SET application_name = 'expandcontract runner'")
                conn.commit()
                guard.install(conn)
                for undo in plan.undo:
                    outcomes.append(
                        self._one_step(conn, undo.revision, run_id, guard, upgrade=False, destination=undo.destination)
                    )
        finally:
            engine.dispose()
        return outcomes
