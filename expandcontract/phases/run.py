"""`run`, `plan` and `downgrade` as functions: plan (pure) + runner (database) + gate + audit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from expandcontract.errors import (
    ExpandContractError,
    GateBlocked,
    GateDenied,
    GateUnknown,
    PhaseOrderError,
    UsageError,
)
from expandcontract.phases.gating import Decider, GatePolicy
from expandcontract.phases.planner import DowngradePlan, Plan, plan_downgrade, plan_upgrade
from expandcontract.phases.project import Project, Revision
from expandcontract.phases.runner import Runner, StepOutcome

Notify = Callable[[str], None]


@dataclass
class RunReport:
    plan: Plan
    run_id: int | None
    applied: list[StepOutcome] = field(default_factory=list)
    stopped_by_gate: str | None = None
    gate: dict[str, Any] | None = None
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.plan.phase,
            "change": self.plan.change,
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "planned": [
                {
                    "revision": s.revision.id,
                    "change": s.revision.change,
                    "phase": s.revision.phase,
                    "lane": s.revision.lane,
                    "why": s.why,
                    "path": str(s.revision.path),
                }
                for s in self.plan.steps
            ],
            "applied": [
                {"revision": o.revision, "attempts": o.attempts, "seconds": round(o.seconds, 3)} for o in self.applied
            ],
            "notes": self.plan.notes,
            "refused": self.plan.refusal.to_json() if self.plan.refusal else None,
            "stopped_by_gate": self.stopped_by_gate,
            "gate": self.gate,
        }


def make_plan(project: Project, url: str, phase: str, change: str | None, notify: Notify) -> Plan:
    runner = Runner(project, url, notify)
    return plan_upgrade(project, runner.applied(), phase, change)


def run_phase(
    project: Project,
    url: str,
    phase: str,
    change: str | None,
    *,
    notify: Notify,
    dry_run: bool = False,
    skip_gate_reason: str | None = None,
    decider: Decider | None = None,
    lock_wait_s: float = 30.0,
    gate_wait_s: float = 0.0,
    gate_poll_s: float = 5.0,
) -> RunReport:
    gate = GatePolicy.for_run(project, phase, skip_gate_reason, decider)
    gate.wait_s, gate.poll_s, gate.notify = gate_wait_s, gate_poll_s, notify
    if gate.mode == "skip-unconfigured" and phase in ("migrate", "contract"):
        notify(
            f"warning: no rollout target configured: the {phase} gate is skipped "
            "(set [tool.expandcontract.rollout], or require_gate = true to refuse)"
        )
    elif gate.mode == "skip-requested":
        notify(f"warning: gate skipped on request: {skip_gate_reason}")
    runner = Runner(project, url, notify, lock_wait_s=lock_wait_s)
    plan = _allowed(plan_upgrade(project, runner.applied(), phase, change))
    if dry_run or not plan.steps:
        return RunReport(plan, None, dry_run=dry_run)
    first_changes = _gated_changes(plan.revisions, phase)
    evidence: dict[str, Any] | None = None
    for ch in first_changes[:1]:
        evidence = gate.check(phase, ch)  # fail fast before taking the lock
    with runner.locked():
        plan = _allowed(plan_upgrade(project, runner.applied(), phase, change))  # re-plan under the lock
        run_id = runner.start_audit("run", phase, change, [r.id for r in plan.revisions], evidence, skip_gate_reason)
        report = RunReport(plan, run_id, gate=evidence)
        checked: set[str] = set()

        def before_step(rev: Revision) -> None:
            # contract: re-check right before each revision's (destructive) DDL; migrate: once per change
            if rev.lane != phase or rev.change is None:
                return
            if phase == "migrate" and rev.change in checked:
                return
            checked.add(rev.change)
            ev = gate.check(phase, rev.change)
            if ev is not None:
                runner.audit_event(run_id, {"revision": rev.id, "event": "gate", "decision": ev.get("decision")})

        outcomes: list[StepOutcome] = []
        try:
            runner.upgrade_steps(plan, run_id, before_step=before_step, outcomes=outcomes)
        except (GateBlocked, GateUnknown, GateDenied) as exc:
            ev = getattr(exc, "evidence", None)
            if outcomes:
                notify(f"applied before the gate stopped the run: {', '.join(o.revision for o in outcomes)}")
            runner.finish_audit(run_id, "stopped-by-gate", error=str(exc), gate=ev)
            raise
        except ExpandContractError as exc:
            if outcomes:
                notify(f"applied before the failure: {', '.join(o.revision for o in outcomes)}")
            failed = plan.steps[len(outcomes)].revision.id if len(outcomes) < len(plan.steps) else None
            runner.finish_audit(run_id, "failed", error=str(exc), failed_revision=failed)
            raise
        except BaseException as exc:
            outcome = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            failed = plan.steps[len(outcomes)].revision.id if len(outcomes) < len(plan.steps) else None
            runner.finish_audit(run_id, outcome, error=_error_text(exc), failed_revision=failed)
            raise
        report.applied = outcomes
        runner.finish_audit(run_id, "succeeded")
        return report


def _allowed(plan: Plan) -> Plan:
    """The plan, or PhaseOrderError (exit 2) when it would need another lane's revisions first."""
    if plan.refusal is not None:
        raise PhaseOrderError(plan.refusal.message, plan.refusal.to_json())
    return plan


def _gated_changes(revs: list[Revision], phase: str) -> list[str]:
    out: list[str] = []
    for r in revs:
        if r.lane == phase and r.change and r.change not in out:
            out.append(r.change)
    return out


def downgrade_plan(project: Project, url: str, change: str, phase: str, notify: Notify) -> DowngradePlan:
    runner = Runner(project, url, notify)
    return plan_downgrade(project, runner.applied(), change, phase)


def run_downgrade(
    project: Project,
    url: str,
    change: str,
    phase: str,
    *,
    notify: Notify,
    confirm: Callable[[DowngradePlan], bool],
    preview: Callable[[DowngradePlan], None] | None = None,
    lock_wait_s: float = 30.0,
) -> DowngradePlan | None:
    """Preview every revision it will undo, refuse before touching anything when one of them is declared
    irreversible, ask `confirm`, then undo them one by one, dependents first."""
    runner = Runner(project, url, notify, lock_wait_s=lock_wait_s)
    plan = plan_downgrade(project, runner.applied(), change, phase)
    if preview is not None:
        preview(plan)
    plan = _reversible(plan)
    if not confirm(plan):
        return None
    with runner.locked():
        plan = _reversible(plan_downgrade(project, runner.applied(), change, phase))
        run_id = runner.start_audit("downgrade", phase, change, [r.id for r in plan.removed], None, None)
        outcomes: list[StepOutcome] = []
        try:
            runner.downgrade(plan, run_id, outcomes)
        except BaseException as exc:
            failed = plan.removed[len(outcomes)].id if len(outcomes) < len(plan.removed) else None
            if outcomes:
                notify(f"undone before the failure: {', '.join(o.revision for o in outcomes)}")
            outcome = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            runner.finish_audit(run_id, outcome, error=_error_text(exc), failed_revision=failed)
            raise
        runner.finish_audit(run_id, "succeeded")
    return plan


def _reversible(plan: DowngradePlan) -> DowngradePlan:
    bad = plan.irreversible
    if bad:
        names = ", ".join(
            f"{r.id} ({r.change or 'unphased'} {r.phase or ''}: {r.reason or 'ec_reversible = False'})" for r in bad
        )
        raise UsageError(
            f"downgrade {plan.phase} of {plan.change} would undo {len(plan.removed)} revision(s), and "
            f"{names} {'is' if len(bad) == 1 else 'are'} declared irreversible; nothing was changed. Undo only "
            "what comes after it, or write a new change that reverses it"
        )
    return plan


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return str(exc) if isinstance(exc, ExpandContractError) else f"{type(exc).__name__}: {exc}"
