"""What a phase run or a downgrade would do, computed from the revision files and the applied set.

Pure: no database. `run PHASE --change SLUG` upgrades that lane up to and including the change's
revision, applying earlier pending revisions of the same lane first. It never applies a revision of
another lane: when the target depends on unapplied revisions of other lanes (a contract whose expand is
pending), the plan is refused, names them and the command to run first, and nothing runs. (Alembic itself
would apply them silently, collapsing the phases into one deploy step.)

Unphased revisions (the history adopted by `init`, or revisions outside any lane) run like expand
revisions: they belong to the expand lane.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from expandcontract.errors import UsageError
from expandcontract.phases import LANES
from expandcontract.phases.project import Project, Revision

LANE_INDEX = {lane: i for i, lane in enumerate(LANES)}


@dataclass(frozen=True)
class Step:
    revision: Revision
    why: str  # "target" | "earlier in lane"


@dataclass(frozen=True)
class Refusal:
    """Why `run PHASE` applies nothing: the target needs unapplied revisions of other lanes."""

    phase: str
    change: str | None
    blocked_by: list[Revision]  # in the order they must run
    run_first: str  # the command that applies the first of them

    @property
    def message(self) -> str:
        what = f"{self.phase} of {self.change}" if self.change else f"the {self.phase} lane"
        needs = ", ".join(f"{r.id} ({lane_of(r)} of {r.change or 'unphased'})" for r in self.blocked_by)
        return (
            f"{what} depends on revisions of other lanes that are not applied: {needs}. `run {self.phase}` "
            f"applies only its own lane, and nothing was applied; run `{self.run_first}` first"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "message": self.message,
            "blocked_by": [{"revision": r.id, "lane": lane_of(r), "change": r.change} for r in self.blocked_by],
            "run_first": self.run_first,
        }


@dataclass
class Plan:
    phase: str
    change: str | None
    target: Revision | None
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refusal: Refusal | None = None

    @property
    def revisions(self) -> list[Revision]:
        return [s.revision for s in self.steps]


def lane_of(rev: Revision) -> str:
    """The lane a revision runs in: unphased revisions outside any lane run like expand revisions."""
    return rev.lane or "expand"


def _position(project: Project, rev: Revision) -> tuple[int, int]:
    lane = lane_of(rev)
    revs = project.lanes.get(lane, [])
    idx = next((i for i, r in enumerate(revs) if r.id == rev.id), len(revs))
    return LANE_INDEX.get(lane, 0), idx


def topo_sorted(project: Project, revs: set[str]) -> list[Revision]:
    """Dependencies point only to earlier lanes and lanes are linear: lane order, then position."""
    return sorted((project.revisions[r] for r in revs), key=lambda r: _position(project, r))


def plan_upgrade(project: Project, applied: set[str], phase: str, change: str | None = None) -> Plan:
    if phase not in LANES:
        raise UsageError(f"PHASE {phase!r} is not one of expand, migrate, contract")
    if change is not None:
        ch = project.change(change)
        target = ch.revision(phase)
        if target is None:
            raise UsageError(
                f"change {change!r} has no {phase} revision; add it with "
                f"`expandcontract new MESSAGE --change {change} --phase {phase}`"
            )
    else:
        target = project.lane_head(phase)
    plan = Plan(phase, change, target)
    if target is None:
        plan.notes.append(f"the {phase} lane is empty: nothing to run")
        return plan
    needed = topo_sorted(project, project.ancestors([target.id]) - applied)
    other = [r for r in needed if lane_of(r) != phase]
    if other:
        plan.refusal = Refusal(phase, change, other, _run_first(other))
        return plan
    for rev in needed:
        plan.steps.append(Step(rev, "target" if rev.id == target.id else "earlier in lane"))
    if not plan.steps:
        plan.notes.append(f"{phase} is up to date: {target.id} is applied")
    return plan


def _run_first(blocked: list[Revision]) -> str:
    """The command that applies the earliest lane's blockers: up to the last of them in that lane."""
    lane = lane_of(blocked[0])
    last = [r for r in blocked if lane_of(r) == lane][-1]
    return f"expandcontract run {lane}" + (f" --change {last.change}" if last.change and last.phase == lane else "")


@dataclass(frozen=True)
class Undo:
    """One revision a downgrade undoes, and the Alembic destination that undoes exactly it."""

    revision: Revision
    destination: str
    cascade: bool  # undone because it depends on the revision asked for (or comes after it in its lane)


@dataclass
class DowngradePlan:
    change: str
    phase: str
    revision: Revision
    undo: list[Undo]  # in the order they are undone: dependents and later revisions of the lane first

    @property
    def removed(self) -> list[Revision]:
        return [u.revision for u in self.undo]

    @property
    def irreversible(self) -> list[Revision]:
        return [r for r in self.removed if r.reversible is False]

    def to_json(self) -> dict[str, object]:
        return {
            "change": self.change,
            "phase": self.phase,
            "revision": self.revision.id,
            "undo": [
                {
                    "revision": u.revision.id,
                    "lane": lane_of(u.revision),
                    "change": u.revision.change,
                    "cascade": u.cascade,
                    "reversible": u.revision.reversible,
                    "reason": u.revision.reason,
                }
                for u in self.undo
            ],
        }


def plan_downgrade(project: Project, applied: set[str], change: str, phase: str) -> DowngradePlan:
    """Undo `phase` of `change` and everything applied that needs it: revisions that depend on it (across
    lanes) and the later revisions of its lane (a lane is linear, so undoing a contract also undoes the
    contracts of later changes). One Undo per revision, dependents first."""
    if phase not in LANES:
        raise UsageError(f"--phase {phase!r} is not one of expand, migrate, contract")
    rev = project.change(change).revision(phase)
    if rev is None:
        raise UsageError(f"change {change!r} has no {phase} revision")
    if rev.id not in applied:
        raise UsageError(f"{phase} of {change!r} ({rev.id}) is not applied; nothing to downgrade")
    removed_ids = {r for r in applied if rev.id in project.ancestors([r])}
    ordered = list(reversed(topo_sorted(project, removed_ids)))
    undo = [Undo(r, _below(r), r.id != rev.id) for r in ordered]
    return DowngradePlan(change, phase, rev, undo)


def _below(rev: Revision) -> str:
    """The destination that undoes `rev` alone once everything that needs it is undone."""
    if len(rev.down_revisions) == 1:
        return rev.down_revisions[0]
    return f"{rev.lane}@base" if rev.lane and not rev.down_revisions else f"{rev.id}-1"
