"""What a phase run or a downgrade would do, computed from the revision files and the applied set.

Pure: no database. `run PHASE --change SLUG` upgrades that lane up to and including the change's
revision, applying earlier pending revisions of the lane first; revisions of other lanes it depends on
that are not applied yet come first (Alembic would apply them anyway; the plan says so).
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
    why: str  # "target" | "earlier in lane" | "dependency"


@dataclass
class Plan:
    phase: str
    change: str | None
    target: Revision | None
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def revisions(self) -> list[Revision]:
        return [s.revision for s in self.steps]


def _position(project: Project, rev: Revision) -> tuple[int, int]:
    lane = rev.lane or "expand"
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
    needed = project.ancestors([target.id]) - applied
    for rev in topo_sorted(project, needed):
        if rev.id == target.id:
            why = "target"
        elif rev.lane == phase:
            why = "earlier in lane"
        else:
            why = "dependency"
            plan.notes.append(
                f"{rev.id} ({rev.lane} of {rev.change or 'unphased'}) is not applied yet and runs first "
                f"because {target.id} depends on it"
            )
        plan.steps.append(Step(rev, why))
    if not plan.steps:
        plan.notes.append(f"{phase} is up to date: {target.id} is applied")
    return plan


@dataclass
class DowngradePlan:
    change: str
    phase: str
    revision: Revision
    removed: list[Revision]  # in the order they will be undone (dependents first)
    target: str  # the Alembic target that undoes exactly `removed`

    @property
    def cascades(self) -> list[Revision]:
        return [r for r in self.removed if r.id != self.revision.id]


def plan_downgrade(project: Project, applied: set[str], change: str, phase: str) -> DowngradePlan:
    if phase not in LANES:
        raise UsageError(f"--phase {phase!r} is not one of expand, migrate, contract")
    rev = project.change(change).revision(phase)
    if rev is None:
        raise UsageError(f"change {change!r} has no {phase} revision")
    if rev.id not in applied:
        raise UsageError(f"{phase} of {change!r} ({rev.id}) is not applied; nothing to downgrade")
    removed_ids = {r for r in applied if rev.id in project.ancestors([r])}
    removed = list(reversed(topo_sorted(project, removed_ids)))
    target = rev.down_revisions[0] if rev.down_revisions else f"{rev.lane}@base"
    return DowngradePlan(change, phase, rev, removed, target)
