"""`doctor`: reconcile our state with `alembic_version` and the catalog, and say (or do) the repair.

Problems (exit 1 until repaired): revision_state rows that `alembic_version` does not back (e.g. after a
plain `alembic stamp`), a revision an interruption left part-applied (which statements committed, which
one was under way, the state of the index it was building: VALID, INVALID or still being built by an
orphaned session; `--fix` finishes an expand or unphased one as a rerun would), INVALID indexes left by
failed concurrent builds, runs still marked running whose runner is gone, a downgrade that stopped
half-way, and database heads this checkout does not know.
Notes (exit 0): phase revisions applied outside our runner (plain `alembic upgrade`). Revisions applied
before `init` (the adopted, unphased history) are never a problem.

Without `--fix` it only reads: it never creates our tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from expandcontract.db.connect import connect
from expandcontract.errors import ExpandContractError
from expandcontract.names import SCHEMA
from expandcontract.phases import cic, resume
from expandcontract.phases.planner import Plan, Step
from expandcontract.phases.project import Project, Revision
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
        part_applied = _part_applied(conn, project, applied)
        claimed = {oid for _f, _rev, oids in part_applied for oid in oids}
        findings += [f for f, _rev, _oids in part_applied]
        findings += _invalid_indexes(conn, fix, claimed)
        live = runner_lock_holder(conn) is not None
        if not live:
            findings += _interrupted_runs(conn, fix)
        findings += _half_done_downgrades(conn, project, applied)
    if fix:
        for f, rev, _oids in part_applied:
            if rev is not None and (rev.lane or "expand") == "expand":
                _finish(project, url, rev, f)
    return findings


def _part_applied(conn: Any, project: Project, applied: set[str]) -> list[tuple[Finding, Revision | None, set[int]]]:
    """Revisions an interruption left part-applied: which statements committed, which was under way, and the
    state of the index it was building."""
    out: list[tuple[Finding, Revision | None, set[int]]] = []
    for item in resume.interrupted(conn, applied):
        rev = project.revisions.get(item.revision)
        oids: set[int] = set()
        parts = []
        if item.committed:
            nums = ", ".join(str(o + 1) for o, _s in item.committed)
            texts = "; ".join(resume.short(s, 70) for _o, s in item.committed[:3])
            parts.append(f"statement(s) {nums} committed ({texts})")
        for ordinal, stmt, _index in item.started:
            state = ""
            t = cic.target(stmt)
            if t is not None:
                found = cic.find(conn, t)
                if found is None:
                    state = f": index {t.name} does not exist"
                else:
                    oids.add(found.oid)
                    state = f": index {found.qualified} is " + (
                        f"still being built by session(s) {', '.join(map(str, found.builders))} (orphaned)"
                        if found.builders
                        else "VALID (built, but the revision is not recorded)"
                        if found.valid
                        else "INVALID"
                    )
            parts.append(f"statement {ordinal + 1} ({resume.short(stmt, 90)}) was under way{state}")
        if rev is not None:
            what = f"{rev.id} ({rev.phase or 'unphased'}{' of ' + rev.change if rev.change else ''}, {rev.path.name})"
            lane = rev.lane or "expand"
            repair = (
                f"expandcontract run {lane}{' --change ' + rev.change if rev.change else ''} finishes it (committed "
                "statements are skipped, a VALID index with the same definition counts as built, an INVALID or "
                "orphaned build is cancelled and dropped first)"
                + ("; `doctor --fix` does the same" if lane == "expand" else "")
            )
        else:
            what = item.revision
            repair = f"restore the revision file of {item.revision} (git checkout), then re-run its phase"
        message = (
            f"revision {what} stopped part-way in run {item.run_id}: "
            + ("; ".join(parts) or "nothing of it committed")
            + "; alembic_version does not record it"
        )
        out.append((Finding("part-applied-revision", message, repair), rev, oids))
    return out


def _finish(project: Project, url: str, rev: Revision, f: Finding) -> None:
    """Complete the revision through the runner (its lock, its recovery of committed statements)."""
    notes: list[str] = []
    runner = Runner(project, url, notes.append)
    try:
        with runner.locked():
            if rev.id in runner.applied():
                f.fixed = True
                return
            run_id = runner.start_audit("doctor --fix", rev.lane, rev.change, [rev.id], None, None)
            plan = Plan(phase=rev.lane or "expand", change=rev.change, target=rev, steps=[Step(rev, "target")])
            try:
                runner.upgrade_steps(plan, run_id)
            except BaseException as exc:
                runner.finish_audit(run_id, "failed", error=str(exc), failed_revision=rev.id)
                raise
            runner.finish_audit(run_id, "succeeded")
        f.fixed = True
    except ExpandContractError as exc:
        f.repair += f" (--fix could not finish it: {exc})"


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
            f"DELETE FROM {SCHEMA}.revision_state WHERE revision = '{rid}'",
        )
        if fix:
            conn.execute(f"DELETE FROM {SCHEMA}.revision_state WHERE revision = %s", (rid,))
            f.fixed = True
        out.append(f)
    return out


def _invalid_indexes(conn: Any, fix: bool, claimed: set[int]) -> list[Finding]:
    """INVALID indexes nobody is building (a build under way is INVALID until it ends; those of a part-applied
    revision are named by its finding)."""
    out = []
    for oid, schema, index, table in conn.execute(
        "SELECT c.oid::int, n.nspname, c.relname, t.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT i.indisvalid AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p "
        "WHERE p.index_relid = c.oid) ORDER BY 2, 3"
    ).fetchall():
        if oid in claimed:
            continue
        qualified = f'"{schema}"."{index}"'
        f = Finding(
            "invalid-index",
            f"index {schema}.{index} on {table} is INVALID (a failed CREATE INDEX CONCURRENTLY): "
            "it slows writes and serves no reads",
            f"DROP INDEX CONCURRENTLY IF EXISTS {qualified}; then re-run the revision that builds it",
        )
        if fix:
            conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {qualified}")
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
