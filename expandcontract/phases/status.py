"""Where every change stands: per phase `absent`, `pending`, `applied`, `running`, `interrupted` or `failed`.

Applied comes from `alembic_version` read through the revision map (never raw rows). Running needs a live
runner: a run still marked running counts only while this database's runner lock is held, so a killed
runner shows `interrupted`, never `running` forever; the same holds for the backfills a change embeds
(their liveness comes from their own advisory locks). A pending phase that `run` would refuse (its
revision needs another lane's revisions first) carries the refusal. Notes say when the database got where
it is outside our runner (plain `alembic upgrade`); revisions applied before `init` are not a problem.

Read-only: it never creates our tables, and never takes a lock behind running DDL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from expandcontract.db.connect import connect
from expandcontract.names import LANES, SCHEMA
from expandcontract.phases.planner import plan_upgrade
from expandcontract.phases.project import Project
from expandcontract.phases.runner import Runner
from expandcontract.phases.state import runner_lock_holder, schema_exists

BackfillReader = Callable[[str], list[dict[str, Any]]]  # url -> backfill status rows (backfill.control.status)
GateReader = Callable[[str, str], dict[str, Any]]  # (phase, change) -> the gate decision as JSON (gates' as_dict)


@dataclass
class ChangeStatus:
    change: str
    phases: dict[str, str]
    revisions: dict[str, str | None]
    backfills: list[dict[str, Any]] = field(default_factory=list)
    refusals: dict[str, dict[str, object]] = field(default_factory=dict)  # phase -> why `run` would refuse
    gate: dict[str, Any] | None = None  # the next gated phase's decision, when a rollout target is configured

    def to_json(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "phases": self.phases,
            "revisions": self.revisions,
            "backfills": self.backfills,
            "refusals": self.refusals,
            "gate": self.gate,
        }

    def next_gated_phase(self) -> str | None:
        """migrate or contract: the first of them this change still has to run."""
        for phase in ("migrate", "contract"):
            if self.phases[phase] not in ("applied", "absent"):
                return phase
        return None


@dataclass
class ProjectStatus:
    changes: list[ChangeStatus]
    heads: list[str]
    unphased_pending: list[str]
    runner_active: bool
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "changes": [c.to_json() for c in self.changes],
            "database_heads": self.heads,
            "unphased_pending": self.unphased_pending,
            "runner_active": self.runner_active,
            "notes": self.notes,
        }


@dataclass
class _Audit:
    running: set[str] = field(default_factory=set)  # revisions of a run whose runner is alive
    interrupted: set[str] = field(default_factory=set)  # revisions of a run that was killed or interrupted
    failed: set[str] = field(default_factory=set)
    recorded: dict[str, Any] = field(default_factory=dict)  # revision -> run_id of its state row (None: plain)
    has_schema: bool = False


def _audit(conn: Any, runner_active: bool) -> _Audit:
    out = _Audit(has_schema=schema_exists(conn))
    if not out.has_schema:
        return out
    # the latest run per revision decides: a later success clears an earlier failure
    for revs, outcome, failed in conn.execute(
        f"SELECT revisions, outcome, failed_revision FROM {SCHEMA}.runs WHERE command = 'run' ORDER BY id"
    ):
        revs = list(revs or [])
        if outcome == "running":
            (out.running if runner_active else out.interrupted).update(revs)
        elif outcome == "interrupted":
            out.interrupted.update([failed] if failed else revs)
        elif outcome == "failed" and failed:
            out.failed.add(failed)
        elif outcome == "succeeded":
            out.failed.difference_update(revs)
            out.interrupted.difference_update(revs)
    out.recorded = dict(conn.execute(f"SELECT revision, run_id FROM {SCHEMA}.revision_state").fetchall())
    return out


def project_status(
    project: Project, url: str, *, backfills: BackfillReader | None = None, gate: GateReader | None = None
) -> ProjectStatus:
    """`gate` (the CLI hands in the rollout decision when a target is configured) is asked once per change
    for its next gated phase; phases never imports gates."""
    runner = Runner(project, url, lambda _m: None)
    heads = runner.current_heads()
    applied = project.ancestors(heads)
    with connect(url, autocommit=True) as conn:
        runner_active = runner_lock_holder(conn) is not None
        audit = _audit(conn, runner_active)
    by_change: dict[str, list[dict[str, Any]]] = {}
    for b in backfills(url) if backfills else []:  # named `<change>.<table>` unless op.backfill(name=...)
        by_change.setdefault(str(b["name"]).split(".", 1)[0], []).append(_embedded(b))
    changes: list[ChangeStatus] = []
    for slug, ch in project.changes.items():
        status = ChangeStatus(slug, {}, {}, by_change.get(slug, []))
        for phase in LANES:
            rev = ch.revision(phase)
            status.revisions[phase] = rev.id if rev else None
            status.phases[phase] = _state(rev.id if rev else None, applied, audit)
            if status.phases[phase] != "applied" and rev is not None:
                refusal = plan_upgrade(project, applied, phase, slug).refusal
                if refusal is not None:
                    status.refusals[phase] = refusal.to_json()
        if status.phases["migrate"] in ("pending", "interrupted", "failed"):
            states = {b["state"] for b in status.backfills}
            if states & {"running", "paused"}:
                status.phases["migrate"] = "running"
            elif "interrupted" in states:
                status.phases["migrate"] = "interrupted"
        next_phase = status.next_gated_phase()
        if gate is not None and next_phase is not None:
            status.gate = {"phase": next_phase, **gate(next_phase, slug)}
        changes.append(status)
    unphased = [r.id for r in project.ordered() if r.change is None and r.id not in applied]
    return ProjectStatus(changes, sorted(heads), unphased, runner_active, _outside_notes(project, applied, audit))


def _state(rev_id: str | None, applied: set[str], audit: _Audit) -> str:
    if rev_id is None:
        return "absent"
    if rev_id in applied:
        return "applied"
    for state, revs in (("running", audit.running), ("interrupted", audit.interrupted), ("failed", audit.failed)):
        if rev_id in revs:
            return state
    return "pending"


def _embedded(b: dict[str, Any]) -> dict[str, Any]:
    """A backfill as `status` shows it: its stored status never says `running` for a dead process."""
    out = dict(b)
    if out.get("state") != out.get("status") and out.get("status") in ("running", "paused"):
        out["status"] = out["state"]
    return out


def _outside_notes(project: Project, applied: set[str], audit: _Audit) -> list[str]:
    """Phase revisions that are applied but were not applied by our runner (plain `alembic upgrade`, or an
    env.py that does not record state). The history adopted by `init` (unphased) is never a problem."""
    outside = [
        r.id
        for r in project.ordered()
        if r.id in applied and r.change is not None and audit.recorded.get(r.id, None) is None
    ]
    if not outside:
        return []
    return [
        f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} applied but not by the expandcontract runner "
        "(plain `alembic upgrade`?): no lock_timeout, retries or audit record were involved. Nothing to repair; "
        "use `expandcontract run PHASE` from now on"
    ]
