"""The orders revisions are verified in, each a list where every revision comes after what it needs.

`alembic`: what `alembic upgrade heads` does (topological: E1 M1 E2 M2 ... then contracts).
`change`: each change's own order, expand, migrate, contract, change after change.
`release`: all expands, then all migrates, then all contracts (how a release rolls out).
"""

from __future__ import annotations

from collections.abc import Iterable

from expandcontract.phases.project import Project, Revision

ORDERS: tuple[str, ...] = ("alembic", "change", "release")


def sequence(project: Project, order: str) -> list[Revision]:
    if order == "alembic":
        steps = project.script._upgrade_revs("heads", ())  # type: ignore[arg-type]
        return [project.revisions[s.revision.revision] for s in steps]
    if order == "change":
        wanted: list[Revision] = []
        for rev in project.lanes.get("expand", []):
            change = project.changes.get(rev.change) if rev.change else None
            wanted.extend(change.revisions() if change is not None and change.expand is rev else [rev])
        return _needs_first(project, [*wanted, *project.ordered()])
    if order == "release":
        return _needs_first(project, project.ordered())
    raise ValueError(order)


def _needs_first(project: Project, wanted: Iterable[Revision]) -> list[Revision]:
    """`wanted` in order, each preceded by what it needs that has not come yet."""
    out: list[Revision] = []
    done: set[str] = set()

    def emit(rev: Revision) -> None:
        if rev.id in done:
            return
        done.add(rev.id)
        for need in (*rev.down_revisions, *rev.depends_on):
            if need in project.revisions:
                emit(project.revisions[need])
        out.append(rev)

    for rev in wanted:
        emit(rev)
    return out
