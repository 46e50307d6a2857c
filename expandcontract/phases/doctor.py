"""`doctor`: reconcile our state with `alembic_version` and the catalog, and say (or do) the repair.

Problems (exit 1 until repaired): revision_state rows that `alembic_version` does not back (e.g. after a
plain `alembic stamp`), INVALID indexes left by failed concurrent builds, runs still marked running whose
runner is gone, a downgrade that stopped half-way, and database heads this checkout does not know.
Notes (exit 0): phase revisions applied outside our runner (plain `alembic upgrade`). Revisions applied
before `init` (the adopted, unphased history) are never a problem.

Without `--fix` it only reads: it never creates our tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from expandcontract.db.connect import connect
from expandcontract.names import SCHEMA
from expandcontract.phases.project import Project
from expandcontract.phases.runner import Runner
from expandcontract.phases.state import runner_lock_holder, schema_exists


@dataclass
class Finding:
    kind: str
    message: str
    repair: str  # SQL or a command
    fixed: bool = False
    severity: str = "problem"  # "problem" (exit 1 until fixed) | "note"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "repair": self.repair,
            "fixed": self.fixed,
        }


def diagnose(project: Project, url: str, *, fix: bool = False) -> list[Finding]:
    runner = Runner(project, url, lambda _m: None)
    heads = runner.current_heads()
    findings: list[Finding] = []
    unknown = sorted(heads - set(project.revisions))
    for rid in unknown:
        findings.append(
            Finding(
                "unknown-head",
                f"alembic_version names {rid}, which this checkout does not have",
                "update the checkout (git pull), or if that revision was abandoned: alembic stamp --purge <known head>",
            )
        )
    applied = project.ancestors(heads)
    with connect(url, autocommit=True) as conn:
        if not schema_exists(conn):
            return findings + _outside(project, applied, {})
        recorded = dict(conn.execute(f"SELECT revision, run_id FROM {SCHEMA}.revision_state").fetchall())
        findings += _outside(project, applied, recorded)
        findings += _stale_state(conn, set(recorded) - applied - set(unknown), fix)
        findings += _invalid_indexes(conn, fix)
        live = runner_lock_holder(conn) is not None
        if not live:
            findings += _interrupted_runs(conn, fix)
        findings += _half_done_downgrades(conn, project, applied)
    return findings


def _outside(project: Project, applied: set[str], recorded: dict[str, Any]) -> list[Finding]:
    revs = [r for r in project.ordered() if r.id in applied and r.change is not None and recorded.get(r.id) is None]
    return [
        Finding(
            "applied-outside-runner",
            f"{r.id} ({r.phase} of {r.change}) is applied, but not by the expandcontract runner (plain `alembic "
            "upgrade`?): it ran without our lock_timeout, retries and audit record",
            "nothing to repair; use `expandcontract run PHASE` from now on",
            severity="note",
        )
        for r in revs
    ]


def _stale_state(conn: Any, stale: set[str], fix: bool) -> list[Finding]:
    out = []
    for rid in sorted(stale):
        f = Finding(
            "state-stale",
            f"revision_state says {rid} is applied but alembic_version does not",
            sql.SQL("DELETE FROM {}.revision_state WHERE revision = {}")
            .format(sql.Identifier(SCHEMA), sql.Literal(rid))
            .as_string(conn),
        )
        if fix:
            conn.execute(f"DELETE FROM {SCHEMA}.revision_state WHERE revision = %s", (rid,))
            f.fixed = True
        out.append(f)
    return out


def _invalid_indexes(conn: Any, fix: bool) -> list[Finding]:
    out = []
    for schema, index, table in conn.execute(
        "SELECT n.nspname, c.relname, t.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT i.indisvalid ORDER BY 1, 2"
    ).fetchall():
        drop = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(schema, index))
        f = Finding(
            "invalid-index",
            f"index {schema}.{index} on {table} is INVALID (a failed CREATE INDEX CONCURRENTLY): "
            "it slows writes and serves no reads",
            f"{drop.as_string(conn)}; then re-run the revision that builds it",
        )
        if fix:
            conn.execute(drop)
            f.fixed = True
        out.append(f)
    return out


def _interrupted_runs(conn: Any, fix: bool) -> list[Finding]:
    out = []
    for (run_id,) in conn.execute(f"SELECT id FROM {SCHEMA}.runs WHERE outcome = 'running' ORDER BY id").fetchall():
        f = Finding(
            "interrupted-run",
            f"run {run_id} is marked running but no runner holds this database's runner lock (the process was killed)",
            f"UPDATE {SCHEMA}.runs SET outcome = 'interrupted' WHERE id = {run_id}",
        )
        if fix:
            conn.execute(
                f"UPDATE {SCHEMA}.runs SET outcome = 'interrupted', finished_at = now() WHERE id = %s", (run_id,)
            )
            f.fixed = True
        out.append(f)
    return out


def _half_done_downgrades(conn: Any, project: Project, applied: set[str]) -> list[Finding]:
    """The latest downgrade of each change and phase that did not finish: what it undid, what is left."""
    out = []
    rows = conn.execute(
        f"SELECT DISTINCT ON (change, phase) id, change, phase, revisions, outcome, failed_revision "
        f"FROM {SCHEMA}.runs WHERE command = 'downgrade' ORDER BY change, phase, id DESC"
    ).fetchall()
    for run_id, change, phase, revisions, outcome, failed in rows:
        if outcome in ("succeeded", "running"):
            continue
        revs = list(revisions or [])
        left = [r for r in revs if r in applied]
        undone = [r for r in revs if r not in applied]
        if not undone or not left:
            continue  # nothing or everything undone: not half-done
        out.append(
            Finding(
                "half-done-downgrade",
                f"downgrade {phase} of {change} (run {run_id}, {outcome}) undid {', '.join(undone)} but "
                f"{', '.join(left)} {'is' if len(left) == 1 else 'are'} still applied"
                + (f" ({failed} failed)" if failed else ""),
                f"fix the failing downgrade and re-run `expandcontract downgrade --change {change} --phase {phase}`, "
                f"or re-apply what was undone with `expandcontract run {_lane(project, undone[-1])}`",
            )
        )
    return out


def _lane(project: Project, rev_id: str) -> str:
    rev = project.revisions.get(rev_id)
    return (rev.lane or "expand") if rev else "expand"
