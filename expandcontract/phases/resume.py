"""Finishing a revision that an interruption left half-applied.

A revision with an `autocommit_block()` commits what ran before the block, then each statement of the
block on its own; a kill or a lost connection after that leaves the revision partly applied and
`alembic_version` behind. So the runner records, per revision, which of its statements are committed, in
`expandcontract.step_progress`: the statements before a block inside the transaction the block's COMMIT
ends (so the record and the statements commit together), each block statement right after it ran, and a
`started` row before a block statement runs (so `doctor` can name the statement and the index a kill
interrupted). The rows are deleted in the transaction that records the revision in `alembic_version`.

A rerun counts the revision's statements again in the same order and skips each one whose ordinal and
fingerprint (its SQL and parameters) are recorded as committed; a revision file edited since then no
longer matches and runs as written.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from expandcontract.names import SCHEMA

PROGRESS = f"{SCHEMA}.step_progress"

PROGRESS_DDL = f"""
CREATE TABLE IF NOT EXISTS {PROGRESS} (
    revision    text NOT NULL,
    ordinal     integer NOT NULL,
    fingerprint text NOT NULL,
    statement   text NOT NULL,
    state       text NOT NULL,
    index_name  text,
    run_id      bigint,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (revision, ordinal)
);
"""

_READ = re.compile(r"^\s*(SELECT|SHOW|EXPLAIN|FETCH|VALUES|TABLE)\b", re.I)
_COMMENTS = re.compile(r"^(\s*(--[^\n]*\n|/\*.*?\*/))*", re.S)

# What a skipped statement becomes (before_cursor_execute can only rewrite, not drop, a statement).
NOOP = "SELECT 1 WHERE false"


def counts(statement: str) -> bool:
    """Whether a statement takes part in the count: everything but plain reads (reflection queries
    return data the revision uses, so they always run)."""
    return not _READ.match(_COMMENTS.sub("", statement))


def fingerprint(statement: str, parameters: Any) -> str:
    text = " ".join(statement.split()) + "\x00" + repr(parameters)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def noop_parameters(parameters: Any, executemany: bool) -> Any:
    if executemany:
        return [{}] if parameters and isinstance(parameters[0], dict) else [()]
    return {} if isinstance(parameters, dict) else ()


def short(statement: str, width: int = 100) -> str:
    one = " ".join(_COMMENTS.sub("", statement).split())
    return one if len(one) <= width else one[: width - 3] + "..."


@dataclass
class StepLog:
    """The statements of one revision's upgrade as the runner counts them."""

    revision: str
    run_id: int | None
    done: dict[int, str]  # ordinal -> fingerprint, committed by an earlier, interrupted run
    ordinal: int = 0
    pending: list[tuple[int, str, str]] = field(default_factory=list)  # run in the open transaction
    finished: bool = False  # alembic_version records the revision: nothing more to record
    skipped: int = 0

    def next(self, statement: str, parameters: Any) -> tuple[int, str, bool]:
        """(ordinal, fingerprint, already committed) of the statement about to run."""
        i = self.ordinal
        self.ordinal += 1
        fp = fingerprint(statement, parameters)
        return i, fp, self.done.get(i) == fp


def load_done(conn: Any, revision: str) -> dict[int, str]:
    """Committed statements of `revision` (SQLAlchemy connection; reads only)."""
    rows = conn.exec_driver_sql(
        f"SELECT ordinal, fingerprint FROM {PROGRESS} WHERE revision = %(r)s AND state = 'committed'",
        {"r": revision},
    ).fetchall()
    return {int(o): str(f) for o, f in rows}


def record(raw: Any, log: StepLog, rows: list[tuple[int, str, str]], state: str, index: str | None = None) -> None:
    """Write progress rows on the psycopg connection `raw` (in its transaction, or autocommitted)."""
    for ordinal, fp, statement in rows:
        raw.execute(
            f"INSERT INTO {PROGRESS} (revision, ordinal, fingerprint, statement, state, index_name, run_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (revision, ordinal) DO UPDATE SET "
            "fingerprint = EXCLUDED.fingerprint, statement = EXCLUDED.statement, state = EXCLUDED.state, "
            f"index_name = coalesce(EXCLUDED.index_name, {PROGRESS}.index_name), run_id = EXCLUDED.run_id, "
            "at = clock_timestamp()",
            (log.revision, ordinal, fp, statement[:2000], state, index, log.run_id),
        )


def forget(conn: Any, revision: str) -> None:
    """In the transaction that records `revision` (SQLAlchemy connection): its progress is history."""
    from sqlalchemy import text

    conn.execute(text(f"DELETE FROM {PROGRESS} WHERE revision = :r"), {"r": revision})


@dataclass
class Interrupted:
    """What `step_progress` says of a revision that alembic_version does not record."""

    revision: str
    run_id: int | None
    committed: list[tuple[int, str]]  # (ordinal, statement)
    started: list[tuple[int, str, str | None]]  # (ordinal, statement, index name) never seen to finish


def interrupted(conn: Any, applied: set[str]) -> list[Interrupted]:
    """Revisions with progress rows that are not applied (psycopg connection; reads only)."""
    if not conn.execute("SELECT to_regclass(%s) IS NOT NULL", (PROGRESS,)).fetchone()[0]:
        return []
    rows = conn.execute(
        f"SELECT revision, ordinal, statement, state, index_name, run_id FROM {PROGRESS} ORDER BY revision, ordinal"
    ).fetchall()
    out: dict[str, Interrupted] = {}
    for rev, ordinal, statement, state, index, run_id in rows:
        if rev in applied:
            continue
        item = out.setdefault(rev, Interrupted(rev, run_id, [], []))
        item.run_id = run_id if run_id is not None else item.run_id
        if state == "committed":
            item.committed.append((int(ordinal), str(statement)))
        else:
            item.started.append((int(ordinal), str(statement), index))
    return list(out.values())
