"""rollout-start: is the database ready for the pods about to start? (serve's `schema_ready` hook)

The only gate question that needs the database: every expand revision the incoming image was built with
must be applied (its code may read the new column), the migrate of every change it is FINAL for too (its
code no longer writes the old shape, so the backfill must be done), and no contract revision it predates
may be applied (its code may still need what that contract removed). Applied revisions are the ancestors of the
database's effective heads through the revision map, never raw `alembic_version` rows.
"""

from __future__ import annotations

from collections.abc import Callable

from expandcontract.phases.project import Project
from expandcontract.phases.stamp import parse_stamp


def readiness(project: Project, stamp: str, applied: set[str]) -> tuple[bool, str]:
    """(ready, why) for pods built with `stamp`, given the applied revisions. Raises ValueError when the
    stamp cannot be resolved against this checkout (the caller answers unknown)."""
    named = [rev for rev in parse_stamp(stamp).values() if rev is not None]
    unknown = [rev for rev in named if rev not in project.revisions]
    if unknown:
        raise ValueError(f"the stamp names revision {unknown[0]}, which this checkout does not know")
    implied = project.ancestors(named)
    final = {project.revisions[r].change for r in implied if project.revisions[r].lane == "contract"}
    # FINAL code no longer dual-writes: the migrate of a change the image is FINAL for must have run
    missing = sorted(
        r
        for r in implied - applied
        if project.revisions[r].lane in ("expand", None)
        or (project.revisions[r].lane == "migrate" and project.revisions[r].change in final)
    )
    if missing:
        names = ", ".join(_describe(project, r) for r in missing)
        return False, f"revision(s) {names} are not applied"
    ahead = sorted(r for r in applied - implied if project.revisions.get(r) and project.revisions[r].lane == "contract")
    if ahead:
        names = ", ".join(_describe(project, r) for r in ahead)
        return False, f"contract revision(s) {names} are applied, and the image predates them"
    return True, "every expand the image was built with is applied and no later contract is"


def _describe(project: Project, rid: str) -> str:
    change = project.revisions[rid].change
    return f"{rid} ({change})" if change else rid


def schema_ready_hook(project: Project, database_url: str) -> Callable[[str], tuple[bool, str]]:
    """A hook for GateApp: reads the database's heads on each call (a deploy is rare; freshness matters)."""

    def hook(stamp: str) -> tuple[bool, str]:
        from expandcontract.phases.runner import Runner

        heads = Runner(project, database_url, lambda _message: None).current_heads()
        strange = heads - set(project.revisions)
        if strange:
            raise ValueError(f"the database is at {sorted(strange)[0]}, which this checkout does not know")
        return readiness(project, stamp, project.ancestors(heads))

    return hook
