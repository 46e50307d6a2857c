"""The deploy rehearse replays, as a list of steps (pure: no database).

The pending changes ship in one release. The old release runs alone first (baseline), then while each
pending expand runs; the new release joins (both: a rolling deploy, where renamed columns are probed);
the new release stops again and the old one runs alone on the expanded schema (the rollback); the new
release comes back and the old one is gone; then each migrate and each contract runs under the new
release alone. With one pending change this is, per DESIGN.md: expand (old traffic) -> new traffic
joins -> rollback -> old traffic stops -> migrate -> contract. Every step belongs to a phase: the
steps before migrate belong to expand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from expandcontract.errors import UsageError
from expandcontract.names import LANES
from expandcontract.phases.project import Project, Revision


@dataclass
class Pending:
    """One pending change: its revisions that are absent at --old, by phase."""

    change: str  # the slug; an unphased revision at the end of the expand lane goes by its id
    slug: str | None  # what `run PHASE --change` takes (None: the lane up to its head)
    revisions: dict[str, list[Revision]] = field(default_factory=dict)

    def has(self, phase: str) -> bool:
        return bool(self.revisions.get(phase))


@dataclass(frozen=True)
class Step:
    index: int
    step: str  # baseline | expand | both | rollback | new | migrate | contract
    phase: str
    change: str | None
    releases: tuple[str, ...]
    run: tuple[str, str | None] | None = None  # (phase, slug) for run_phase, or only traffic

    @property
    def label(self) -> str:
        what = f"{self.step} {self.change}" if self.run and self.change else self.step
        return f"{what} ({' + '.join(self.releases) or 'no traffic'})"


def pending_changes(project: Project, applied: set[str]) -> list[Pending]:
    """The working tree's revisions absent at --old, grouped by change, in expand-lane order."""
    loose = [r for r in project.revisions.values() if r.lane is None and r.id not in applied]
    if loose:
        raise UsageError(
            f"{loose[0].path} is not in a lane; rehearse runs phases with the runner: run `expandcontract init`"
        )
    by_change: dict[str, Pending] = {}
    waiting: list[Revision] = []  # unphased expand revisions: they run with the next change's expand
    for lane in LANES:
        for rev in project.lanes.get(lane, []):
            if rev.id in applied:
                continue
            if rev.change is None:
                if lane == "expand":
                    waiting.append(rev)
                    continue
                pend = by_change.setdefault(rev.id, Pending(rev.id, None))
            else:
                pend = by_change.setdefault(rev.change, Pending(rev.change, rev.change))
            pend.revisions.setdefault(lane, []).extend([*waiting, rev] if lane == "expand" else [rev])
            if lane == "expand":
                waiting = []
    if waiting:
        tail = Pending(waiting[-1].id, None, {"expand": waiting})
        by_change[tail.change] = tail
    order = {slug: i for i, slug in enumerate(project.changes)}
    return sorted(by_change.values(), key=lambda p: order.get(p.change, len(order)))


def plan(pending: list[Pending], *, old: bool, new: bool = True) -> list[Step]:
    """The steps of the rehearsal; a release that does not exist (no old schema) sends no traffic."""
    steps: list[Step] = []

    def add(
        step: str, phase: str, change: str | None, releases: tuple[str, ...], run: tuple[str, str | None] | None = None
    ) -> None:
        present = tuple(r for r in releases if (r == "old" and old) or (r == "new" and new))
        steps.append(Step(len(steps), step, phase, change, present, run))

    first = pending[0].change if pending else None
    add("baseline", "expand", first, ("old",))
    expanded: str | None = None
    for p in pending:
        if p.has("expand"):
            add("expand", "expand", p.change, ("old",), ("expand", p.slug))
            expanded = p.change
    last = expanded or (pending[-1].change if pending else None)
    add("both", "expand", last, ("old", "new"))
    if expanded is not None:
        add("rollback", "expand", last, ("old",))
    add("new", "expand", last, ("new",))
    for phase in ("migrate", "contract"):
        for p in pending:
            if p.has(phase):
                add(phase, phase, p.change, ("new",), (phase, p.slug))
    return steps
