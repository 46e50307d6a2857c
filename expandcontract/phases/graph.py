"""The graph rules of a project, in one place: what makes running phases unsafe, found from the revision
files alone. `load_project` refuses a project that breaks one (exit 2) and `lint` reports the ones that
have a lint rule, each with the same message and fix.

Each problem names the rule it breaks (the lint rule id where one exists), the revision and the module
attribute to point at, what is wrong, and the fix in the user's own names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from expandcontract.names import LANES, SLUG

if TYPE_CHECKING:
    from expandcontract.phases.project import Project, Revision

REVERSIBLE_VALUES = (True, False, "lossy")


@dataclass(frozen=True)
class GraphProblem:
    rule: str  # a lint rule id (multiple-lane-heads, phase-lane-mismatch, contract-without-expand) or a kind
    revision: str
    path: Path
    anchor: str | None  # the module-level name to point at (ec_phase, depends_on), None: the file
    message: str  # what is wrong
    fix: str  # what to do, in the user's names

    def line(self) -> str:
        """The one line `load_project` raises: where, what, and the fix (a lane's heads: named in the message)."""
        where = "" if self.rule == "multiple-lane-heads" else f"{self.path}: "
        return f"{where}{self.message}; {self.fix}"


def lane_heads(project: Project) -> dict[str, list[str]]:
    """Heads per lane as Alembic sees them (more than one is an error)."""
    heads: dict[str, list[str]] = {lane: [] for lane in LANES}
    has_child = {d for r in project.revisions.values() for d in r.down_revisions}
    for rev in project.revisions.values():
        if rev.lane and rev.id not in has_child:
            heads[rev.lane].append(rev.id)
    return heads


def graph_problems(project: Project) -> list[GraphProblem]:
    """Every structural problem, in a stable order (lanes, then revisions in lane order, then changes)."""
    return [*_heads(project), *_dependencies(project), *_declarations(project), *_changes(project)]


def _heads(project: Project) -> list[GraphProblem]:
    out: list[GraphProblem] = []
    for lane, heads in lane_heads(project).items():
        if len(heads) <= 1:
            continue
        ordered = sorted(heads)
        names = " and ".join(f"{h} ({project.revisions[h].path.name})" for h in ordered)
        for h in ordered:
            out.append(
                GraphProblem(
                    "multiple-lane-heads",
                    h,
                    project.revisions[h].path,
                    None,
                    f"the {lane} lane has {len(heads)} heads: {names}; `alembic upgrade {lane}@head` refuses to run",
                    "make the newer one revise the older (set its down_revision to the older one's id), or run "
                    f"`alembic merge -m merge {' '.join(ordered)}`",
                )
            )
    return out


def _dependencies(project: Project) -> list[GraphProblem]:
    out: list[GraphProblem] = []
    for rev in project.revisions.values():
        for dep in rev.depends_on:
            others = [d for d in (*rev.down_revisions, *rev.depends_on) if d != dep]
            if dep in project.ancestors(others):
                keep = tuple(d for d in rev.depends_on if d != dep)
                out.append(
                    GraphProblem(
                        "redundant-dependency",
                        rev.id,
                        rev.path,
                        "depends_on",
                        f"depends_on names {dep}, which its other dependencies already imply; Alembic's version "
                        "bookkeeping fails on such a revision",
                        f"set depends_on = {keep[0] if len(keep) == 1 else keep!r}",
                    )
                )
    return out


def _declarations(project: Project) -> list[GraphProblem]:
    out: list[GraphProblem] = []
    seen: dict[tuple[str, str], Path] = {}
    for rev in project.ordered():
        if rev.phase is None and rev.change is None:
            continue

        if rev.phase not in LANES:
            out.append(
                _problem(
                    rev,
                    "phase-lane-mismatch",
                    "ec_phase",
                    f"ec_phase = {rev.phase!r} must be 'expand', 'migrate' or 'contract'",
                    f"set ec_phase = {rev.lane!r} to match its lane" if rev.lane else "set ec_phase to its lane's name",
                )
            )
            continue
        if not isinstance(rev.change, str) or not SLUG.match(rev.change):
            out.append(
                _problem(
                    rev,
                    "invalid-change",
                    "ec_change",
                    f"ec_change = {rev.change!r} must be a slug like 'users-email-verified'",
                    "use lowercase letters, digits and dashes",
                )
            )
            continue
        if rev.lane != rev.phase:
            out.append(
                _problem(
                    rev,
                    "phase-lane-mismatch",
                    "ec_phase",
                    f"ec_phase = {rev.phase!r} but the file is in the {rev.lane or 'unlabelled'} lane",
                    f"move it to versions/{rev.phase}/ and make it revise that lane's head"
                    + (f", or set ec_phase = {rev.lane!r}" if rev.lane else ""),
                )
            )
        if rev.reversible not in REVERSIBLE_VALUES:
            out.append(
                _problem(
                    rev,
                    "invalid-reversible",
                    "ec_reversible",
                    f"ec_reversible = {rev.reversible!r} must be True, False or 'lossy'",
                    "set one of those",
                )
            )
        key = (rev.change, rev.phase)
        if key in seen:
            out.append(
                _problem(
                    rev,
                    "duplicate-phase",
                    "ec_phase",
                    f"change {rev.change!r} already has a {rev.phase} revision ({seen[key].name})",
                    "one revision per phase per change: give this one its own --change slug",
                )
            )
        seen[key] = rev.path
    return out


def _problem(rev: Revision, rule: str, anchor: str, message: str, fix: str) -> GraphProblem:
    return GraphProblem(rule, rev.id, rev.path, anchor, message, fix)


def _changes(project: Project) -> list[GraphProblem]:
    out: list[GraphProblem] = []
    for ch in project.changes.values():
        if ch.contract is not None:
            c = ch.contract
            if ch.expand is None:
                out.append(
                    GraphProblem(
                        "contract-without-expand",
                        c.id,
                        c.path,
                        "depends_on",
                        f"contract of change {ch.slug!r} has no expand revision",
                        f"add its expand: `expandcontract new MESSAGE --change {ch.slug} --phase expand`",
                    )
                )
            else:
                needed = {r.id for r in (ch.expand, ch.migrate) if r is not None}
                missing = needed - project.ancestors([c.id])
                if missing:
                    want = tuple(sorted(needed)) if ch.migrate is None else ch.migrate.id
                    out.append(
                        GraphProblem(
                            "contract-without-expand",
                            c.id,
                            c.path,
                            "depends_on",
                            f"contract of change {ch.slug!r} does not depend on {', '.join(sorted(missing))}",
                            f"set depends_on = {want!r} in {c.path.name}",
                        )
                    )
        m = ch.migrate
        if m is not None and ch.expand is not None and ch.expand.id not in project.ancestors([m.id]):
            out.append(
                GraphProblem(
                    "migrate-without-expand",
                    m.id,
                    m.path,
                    "depends_on",
                    f"migrate of change {ch.slug!r} does not depend on its expand {ch.expand.id}",
                    f"set depends_on = {ch.expand.id!r} in {m.path.name}",
                )
            )
    return out
