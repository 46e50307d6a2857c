"""Where every change stands: per phase `absent`, `pending`, `applied`, `running` or `failed`.

Applied comes from `alembic_version` read through the revision map (never raw rows); running and failed
from the audit log (a run still marked running counts only while the runner lock is held, so a killed
runner never leaves a phase "running" forever) and from unfinished backfills.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from expandcontract.db.connect import connect
from expandcontract.phases import LANES
from expandcontract.phases.project import Project
from expandcontract.phases.runner import Runner
from expandcontract.phases.state import ADVISORY_LOCK_KEY, SCHEMA


@dataclass
class ChangeStatus:
    change: str
    phases: dict[str, str]
    revisions: dict[str, str | None]
    backfills: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"change": self.change, "phases": self.phases, "revisions": self.revisions, "backfills": self.backfills}


@dataclass
class ProjectStatus:
    changes: list[ChangeStatus]
    heads: list[str]
    unphased_pending: list[str]
    runner_active: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "changes": [c.to_json() for c in self.changes],
            "database_heads": self.heads,
            "unphased_pending": self.unphased_pending,
            "runner_active": self.runner_active,
        }


def _table_exists(conn: Any, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


def project_status(project: Project, url: str) -> ProjectStatus:
    runner = Runner(project, url, lambda _m: None)
    heads = runner.current_heads()
    applied = project.ancestors(heads)
    running_revs: set[str] = set()
    failed_revs: set[str] = set()
    backfills: dict[str, list[dict[str, Any]]] = {}
    runner_active = False
    with connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = %s AND granted",
            (ADVISORY_LOCK_KEY,),
        ).fetchone()
        runner_active = bool(row and row[0])
        if _table_exists(conn, f"{SCHEMA}.runs"):
            if runner_active:
                for (revs,) in conn.execute(
                    f"SELECT revisions FROM {SCHEMA}.runs WHERE outcome = 'running' AND command = 'run'"
                ):
                    running_revs.update(revs or [])
            for (rev,) in conn.execute(
                f"SELECT DISTINCT ON (failed_revision) failed_revision FROM {SCHEMA}.runs "
                "WHERE outcome = 'failed' AND failed_revision IS NOT NULL ORDER BY failed_revision, id DESC"
            ):
                failed_revs.add(rev)
    from expandcontract.backfill.control import status as backfill_status

    for b in backfill_status(url):  # named `<change>.<table>` unless op.backfill(name=...)
        backfills.setdefault(str(b["name"]).split(".", 1)[0], []).append(b)
    changes: list[ChangeStatus] = []
    for slug, ch in project.changes.items():
        phases: dict[str, str] = {}
        revisions: dict[str, str | None] = {}
        for phase in LANES:
            rev = ch.revision(phase)
            revisions[phase] = rev.id if rev else None
            if rev is None:
                state = "absent"
            elif rev.id in applied:
                state = "applied"
            elif rev.id in running_revs:
                state = "running"
            elif rev.id in failed_revs:
                state = "failed"
            else:
                state = "pending"
            phases[phase] = state
        bfs = backfills.get(slug, [])
        if phases["migrate"] == "pending" and any(b.get("status") in ("running", "paused") for b in bfs):
            phases["migrate"] = "running"
        changes.append(ChangeStatus(slug, phases, revisions, bfs))
    unphased = [r.id for r in project.ordered() if r.change is None and r.id not in applied]
    return ProjectStatus(changes, sorted(heads), unphased, runner_active)
