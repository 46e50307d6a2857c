"""A `CREATE INDEX CONCURRENTLY` that runs again after an interruption.

The index it names may exist already: VALID (the build finished after its client was killed), INVALID
(the build was cancelled or its backend killed), or still being built by an orphaned session (the client
is gone, the backend builds on). A VALID index with the statement's definition counts as done; an
INVALID one is dropped, after any session still building it has been cancelled (and, if it does not
stop, terminated): DROP INDEX CONCURRENTLY queued behind a running build never finishes. Every wait is
bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg import sql

Notify = Callable[[str], None]

STOP_WAIT_S = 10.0


@dataclass(frozen=True)
class Target:
    """The index a CREATE INDEX CONCURRENTLY statement builds."""

    name: str
    table: str  # as the statement names it, quoted where needed
    if_not_exists: bool
    definition: str  # normalised: no CONCURRENTLY / IF NOT EXISTS, unqualified table


@dataclass(frozen=True)
class Found:
    name: str
    oid: int
    qualified: str  # "schema"."index"
    valid: bool
    indexdef: str
    builders: tuple[int, ...]  # pids building it right now

    @property
    def state(self) -> str:
        return "building" if self.builders else "valid" if self.valid else "invalid"


def _normalise(stmt: Any, name: str) -> str:
    from pglast.stream import RawStream

    stmt.concurrent = False
    stmt.if_not_exists = False
    stmt.idxname = name
    stmt.relation.schemaname = None
    stmt.accessMethod = stmt.accessMethod or "btree"
    return str(RawStream()(stmt))


def target(statement: str) -> Target | None:
    try:
        from pglast import ast, parse_sql

        stmts = parse_sql(statement)
    except Exception:
        return None
    if len(stmts) != 1 or not isinstance(stmts[0].stmt, ast.IndexStmt):
        return None
    stmt = stmts[0].stmt
    rel = stmt.relation
    if not stmt.concurrent or not stmt.idxname or rel is None:
        return None
    table = sql.Identifier(*(p for p in (rel.schemaname, rel.relname) if p))
    return Target(
        name=stmt.idxname,
        table=table.as_string(None),
        if_not_exists=bool(stmt.if_not_exists),
        definition=_normalise(stmt, stmt.idxname),
    )


def same_definition(t: Target, indexdef: str) -> bool:
    try:
        from pglast import parse_sql

        return _normalise(parse_sql(indexdef)[0].stmt, t.name) == t.definition
    except Exception:
        return False


FIND_SQL = """
SELECT c.oid::int, format('%%I.%%I', n.nspname, c.relname), i.indisvalid, pg_get_indexdef(c.oid),
       coalesce((SELECT array_agg(p.pid) FROM pg_stat_progress_create_index p
                 WHERE p.index_relid = c.oid AND p.pid <> pg_backend_pid()), '{}')
FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = %s AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass(%s))
"""


def find(raw: Any, t: Target) -> Found | None:
    row = raw.execute(FIND_SQL, (t.name, t.table)).fetchone()
    if row is None:
        return None
    return Found(t.name, int(row[0]), str(row[1]), bool(row[2]), str(row[3]), tuple(int(p) for p in row[4]))


def find_named(raw: Any, qualified_or_plain: str) -> Found | None:
    """The index `name` (as to_regclass resolves it)."""
    row = raw.execute(
        "SELECT c.relname, t.oid::regclass::text FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
        "JOIN pg_class t ON t.oid = i.indrelid WHERE c.oid = to_regclass(%s)",
        (qualified_or_plain,),
    ).fetchone()
    if row is None:
        return None
    return find(raw, Target(str(row[0]), str(row[1]), False, ""))


def _alive(raw: Any, pids: list[int]) -> list[int]:
    """Those of `pids` still running a statement (a cancelled session whose client lives stays, idle)."""
    rows = raw.execute(
        "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s) "
        "AND state NOT IN ('idle', 'idle in transaction (aborted)')",
        (pids,),
    ).fetchall()
    return [int(r[0]) for r in rows]


def stop_builders(raw: Any, pids: tuple[int, ...], notify: Notify, wait_s: float = STOP_WAIT_S) -> list[int]:
    """Cancel each session building the index, terminate those that do not stop; the pids still alive."""
    left = list(pids)
    for how in ("pg_cancel_backend", "pg_terminate_backend"):
        if not left:
            break
        for pid in left:
            raw.execute(sql.SQL("SELECT {}(%s)").format(sql.Identifier(how)), (pid,))
        deadline = time.monotonic() + wait_s
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = _alive(raw, left)
        if left and how == "pg_cancel_backend":
            notify(f"session(s) {', '.join(map(str, left))} did not stop on cancel; terminating")
    return left


def clear(raw: Any, found: Found, notify: Notify) -> None:
    """Stop whoever still builds `found`, then drop it (raw: autocommit, with a lock_timeout set)."""
    if found.builders:
        notify(
            f"index {found.qualified} is still being built by session(s) {', '.join(map(str, found.builders))} "
            "left by an interrupted run; cancelling them before building it again"
        )
        left = stop_builders(raw, found.builders, notify)
        if left:
            from expandcontract.errors import PhaseFailed

            raise PhaseFailed(
                f"session(s) {', '.join(map(str, left))} still build index {found.qualified} after cancel and "
                f"terminate; end them (SELECT pg_terminate_backend(pid)) and re-run"
            )
    notify(f"dropping INVALID index {found.name} left by an earlier failed concurrent build")
    raw.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.SQL(found.qualified)))


def prepare(raw: Any, statement: str, notify: Notify) -> bool:
    """Before a CREATE INDEX CONCURRENTLY runs: True when an earlier run already built the index (skip the
    statement); else whatever an interrupted build left is cleared so the statement can run."""
    t = target(statement)
    if t is None:
        return False
    found = find(raw, t)
    if found is None:
        return False
    if found.valid and not found.builders:
        if t.if_not_exists or same_definition(t, found.indexdef):
            notify(f"index {found.qualified} already exists and is VALID with this definition: counted as built")
            return True
        from expandcontract.errors import PhaseFailed

        raise PhaseFailed(
            f"index {found.qualified} already exists with another definition ({found.indexdef}) than the revision "
            f"builds ({t.definition}); rename the index in the revision, or drop the old one "
            f"(DROP INDEX CONCURRENTLY {found.qualified}) and re-run"
        )
    clear(raw, found, notify)
    return False
