"""DDL never queues behind a long transaction while every query queues behind it.

Before a lock-taking statement the runner waits (within `holder_wait_s`) until no other session has
held a lock on the statement's tables for longer than `long_holder_ms`; the statement then runs under a
short `lock_timeout` (default 100 ms). A lock timeout rolls the revision back; the runner retries it
with jittered backoff within `retries` / `retry_budget_s`, never an unbounded wait, and on exhaustion
reports the sessions that held the locks. CONCURRENTLY statements run outside a transaction; a failed
concurrent index build leaves no INVALID index behind, and what an interrupted build left (a VALID index:
done; an INVALID one, or one an orphaned session still builds: cancelled and dropped) is settled before
the build is tried again (cic.py). The guard also counts each revision's statements so a rerun skips
those an interrupted run committed (resume.py), and checks the runner lock before every statement.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from expandcontract.config import DDLConfig
from expandcontract.phases import cic
from expandcontract.phases.resume import NOOP, StepLog, counts, noop_parameters, record, short

_LOCKING = re.compile(
    r"^\s*(ALTER|CREATE|DROP|LOCK|TRUNCATE|REINDEX|CLUSTER|VACUUM|COMMENT|GRANT|REVOKE|REFRESH)\b", re.I
)
_CONCURRENTLY = re.compile(r"\bCONCURRENTLY\b", re.I)
_CIC_NAME = re.compile(
    r"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?((?:\"[^\"]+\"|[\w$]+)(?:\.(?:\"[^\"]+\"|[\w$]+))?)",
    re.I,
)

HOLDERS_SQL = """
SELECT a.pid, coalesce(a.application_name, '') AS application_name,
       extract(epoch FROM now() - a.xact_start)::float8 AS xact_age_s,
       a.state, left(coalesce(a.query, ''), 300) AS query, l.mode, c.relname
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
JOIN pg_class c ON c.oid = l.relation
WHERE l.relation = ANY(%s::oid[]) AND l.granted AND l.pid <> pg_backend_pid()
  AND a.xact_start < now() - make_interval(secs => %s)
ORDER BY a.xact_start
"""


def is_locking(statement: str) -> bool:
    return bool(_LOCKING.match(_strip_comments(statement)))


def is_concurrently(statement: str) -> bool:
    return bool(_CONCURRENTLY.search(statement)) and is_locking(statement)


def _strip_comments(sql: str) -> str:
    return re.sub(r"^(\s*(--[^\n]*\n|/\*.*?\*/))*", "", sql, flags=re.S)


def relations(statement: str) -> list[str]:
    """Qualified names of the relations a DDL statement names (tables, and indexes for DROP INDEX)."""
    try:
        from pglast import ast, parse_sql
        from pglast.visitors import Visitor
    except ImportError:  # pragma: no cover - pglast is a dependency
        return []
    try:
        stmts = parse_sql(statement)
    except Exception:
        return []
    names: list[str] = []

    class Collect(Visitor):
        def visit_RangeVar(self, _ancestors: Any, node: Any) -> None:
            names.append(_qualify(node.schemaname, node.relname))

        def visit_DropStmt(self, _ancestors: Any, node: Any) -> None:
            from pglast.enums import ObjectType

            if node.removeType in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_INDEX):
                for obj in node.objects or ():
                    parts = [getattr(p, "sval", None) for p in (obj if isinstance(obj, tuple) else (obj,))]
                    parts = [p for p in parts if p]
                    if parts:
                        names.append(".".join(_quote(str(p)) for p in parts))

    for raw in stmts:
        Collect()(raw)
    _ = ast
    return names


def _quote(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'


def _qualify(schema: str | None, name: str | None) -> str:
    name = name or ""
    return f"{_quote(schema)}.{_quote(name)}" if schema else _quote(name)


def is_lock_timeout(exc: BaseException) -> bool:
    import psycopg.errors

    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, psycopg.errors.LockNotAvailable):
            return True
        cur = getattr(cur, "orig", None) or cur.__cause__ or cur.__context__
    return False


def backoff_s(policy: DDLConfig, attempt: int, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff, capped at retry_max_ms."""
    rng = rng or random.Random()
    cap = min(policy.retry_max_ms, policy.retry_base_ms * (2 ** min(attempt, 16)))
    return rng.uniform(policy.retry_base_ms, max(policy.retry_base_ms, cap)) / 1000.0


@dataclass
class LockGuard:
    """Installed on the runner's SQLAlchemy connection for the duration of a run."""

    policy: DDLConfig
    notify: Callable[[str], None] = lambda _msg: None
    last_tables: list[str] = field(default_factory=list)
    committed_in_step: bool = False
    waited_s: float = 0.0
    lock_check: Callable[[Any], None] | None = None  # before every statement: do we still hold the runner lock?
    prepared: StepLog | None = None  # the next step's statement log, active once its migrations begin
    step: StepLog | None = None
    _running: tuple[int, str, str] | None = None  # an autocommit statement under way

    def install(self, conn: Any) -> None:
        from sqlalchemy import event

        event.listen(conn, "before_cursor_execute", self._before, retval=True)
        event.listen(conn, "after_cursor_execute", self._after)
        event.listen(conn.engine, "handle_error", self._on_error)  # a dialect-level event
        event.listen(conn, "commit", self._on_commit)
        event.listen(conn, "rollback", self._on_rollback)

    def remove(self, conn: Any) -> None:
        from sqlalchemy import event

        event.remove(conn, "before_cursor_execute", self._before)
        event.remove(conn, "after_cursor_execute", self._after)
        event.remove(conn.engine, "handle_error", self._on_error)
        event.remove(conn, "commit", self._on_commit)
        event.remove(conn, "rollback", self._on_rollback)

    def session_settings(self) -> list[str]:
        out = [f"SET lock_timeout = '{int(self.policy.lock_timeout_ms)}ms'"]
        out.append(f"SET statement_timeout = '{int(self.policy.statement_timeout_ms)}ms'")
        return out

    # -- steps ----------------------------------------------------------------------------------
    def begin_step(self) -> None:
        """The step's migrations begin (env.py has committed its own setup): count from here."""
        self.committed_in_step = False
        self.step = self.prepared
        self._running = None

    def finish_step(self) -> None:
        """alembic_version records the step (inside its last transaction): nothing more to record."""
        if self.step is not None:
            self.step.finished = True

    def end_step(self) -> None:
        self.step = self.prepared = None
        self._running = None

    # -- events -------------------------------------------------------------------------------
    def _on_commit(self, conn: Any) -> None:
        self.committed_in_step = True
        step = self.step
        if step is None or step.finished or not step.pending:
            return
        raw = conn.connection.dbapi_connection
        if raw is not None and not raw.autocommit:  # the block's COMMIT: the record commits with the statements
            record(raw, step, step.pending, "committed")
        step.pending.clear()

    def _on_rollback(self, _conn: Any) -> None:
        if self.step is not None:
            self.step.pending.clear()

    def _before(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> tuple[str, Any]:
        raw = cursor.connection
        if self.lock_check is not None:
            self.lock_check(raw)
        current: tuple[int, str, str] | None = None
        step = self.step
        if step is not None and not step.finished and counts(statement):
            ordinal, fp, done = step.next(statement, parameters)
            if done:
                step.skipped += 1
                self.notify(
                    f"{step.revision}: statement {ordinal + 1} ({short(statement)}) was committed by an "
                    "interrupted run; skipped"
                )
                return NOOP, noop_parameters(parameters, executemany)
            current = (ordinal, fp, statement)
        if not is_locking(statement):
            self._note(raw, current)
            return statement, parameters
        tables = relations(statement)
        self.last_tables = tables
        if is_concurrently(statement):
            budget_ms = int(self.policy.retry_budget_s * 1000)
            raw.execute(f"SET lock_timeout = '{budget_ms}ms'")
            if cic.prepare(raw, statement, self.notify):
                if current is not None and step is not None and raw.autocommit:
                    record(raw, step, [current], "committed")
                return NOOP, noop_parameters(parameters, executemany)
            self._note(raw, current, _cic_index(statement))
            return statement, parameters
        raw.execute(f"SET lock_timeout = '{int(self.policy.lock_timeout_ms)}ms'")
        if tables:
            self._wait_for_holders(raw, tables)
        self._note(raw, current)
        return statement, parameters

    def _note(self, raw: Any, current: tuple[int, str, str] | None, index: str | None = None) -> None:
        """Remember a counted statement: in a transaction until its COMMIT, else as started right now."""
        step = self.step
        if current is None or step is None:
            return
        if raw.autocommit:
            record(raw, step, [current], "started", index)
            self._running = current
        else:
            step.pending.append(current)

    def _after(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        running, self._running = self._running, None
        raw = cursor.connection
        if running is not None and self.step is not None and raw.autocommit:
            record(raw, self.step, [running], "committed")

    def _on_error(self, exc_context: Any) -> None:
        self._running = None
        stmt = exc_context.statement or ""
        if is_concurrently(stmt):
            name = _cic_index(stmt)
            raw = getattr(exc_context.connection, "connection", None)
            if name and raw is not None:
                self._drop_invalid(raw.dbapi_connection, stmt)

    # -- helpers ------------------------------------------------------------------------------
    def _wait_for_holders(self, raw: Any, tables: list[str]) -> None:
        oids = relation_oids(raw, tables)
        if not oids:
            return
        deadline = time.monotonic() + self.policy.holder_wait_s
        announced = False
        start = time.monotonic()
        while True:
            rows = raw.execute(HOLDERS_SQL, (oids, self.policy.long_holder_ms / 1000.0)).fetchall()
            if not rows or time.monotonic() >= deadline:
                break
            if not announced:
                pid, app, age = rows[0][0], rows[0][1], rows[0][2]
                self.notify(
                    f"waiting for session {pid} ({app or 'no application_name'}, transaction open "
                    f"{age:.1f}s) to release {rows[0][6]} before taking its lock"
                )
                announced = True
            time.sleep(0.02)
        self.waited_s += time.monotonic() - start

    def _drop_invalid(self, raw: Any, statement: str) -> None:
        """After a failed CREATE INDEX CONCURRENTLY (its connection may be gone, its build may still run on
        the server): on a connection of its own, with bounded waits, stop any session still building the
        index, then drop the INVALID index it left. A DROP INDEX CONCURRENTLY queued behind a running build
        would wait for it (and it for the drop): never drop first."""
        import psycopg

        t = cic.target(statement)
        if t is None or raw is None:
            return
        try:
            info = raw.info
            with psycopg.connect(info.dsn, password=info.password, autocommit=True, connect_timeout=10) as side:
                side.execute(f"SET lock_timeout = '{int(self.policy.retry_budget_s * 1000)}ms'")
                side.execute(f"SET statement_timeout = '{int(self.policy.retry_budget_s * 1000) + 10000}ms'")
                found = cic.find(side, t)
                if found is None or (found.valid and not found.builders):
                    return
                if found.builders:
                    cic.stop_builders(side, found.builders, self.notify)
                side.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {found.qualified}")
                self.notify(f"dropped INVALID index {t.name} left by the failed concurrent build")
        except Exception as exc:
            self.notify(f"could not drop INVALID index {t.name} ({exc}); run `expandcontract doctor`")


def _cic_index(statement: str) -> str | None:
    m = _CIC_NAME.match(_strip_comments(statement))
    return m.group(1) if m else None


def relation_oids(raw: Any, tables: list[str]) -> list[int]:
    """OIDs of the named relations, plus each index's table (DROP INDEX locks the table too)."""
    oids: list[int] = []
    for name in tables:
        row = raw.execute(
            "SELECT c.oid::int, coalesce(i.indrelid, 0)::int FROM pg_class c "
            "LEFT JOIN pg_index i ON i.indexrelid = c.oid WHERE c.oid = to_regclass(%s)",
            (name,),
        ).fetchone()
        if row:
            oids.append(row[0])
            if row[1]:
                oids.append(row[1])
    return oids


def blockers(raw: Any, tables: list[str], min_age_s: float = 0.0) -> list[dict[str, Any]]:
    """Sessions holding locks on `tables`: pid, application_name, transaction age, state, query."""
    oids = relation_oids(raw, tables)
    if not oids:
        return []
    rows = raw.execute(HOLDERS_SQL, (oids, min_age_s)).fetchall()
    keys = ("pid", "application_name", "xact_age_s", "state", "query", "mode", "table")
    return [dict(zip(keys, r, strict=True)) for r in rows]
