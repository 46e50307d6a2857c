"""`doctor`: reconcile our state with `alembic_version` and the catalog, and say (or do) the repair.

Checks: revision_state rows that disagree with what alembic_version implies (e.g. after a plain
`alembic stamp`), INVALID indexes left by failed concurrent builds, runs still marked running whose
runner is gone, and database heads this checkout does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from expandcontract.db.connect import connect
from expandcontract.phases.project import Project
from expandcontract.phases.runner import Runner
from expandcontract.phases.state import ADVISORY_LOCK_KEY, SCHEMA, ensure_schema_sql


@dataclass
class Finding:
    kind: str
    message: str
    repair: str  # SQL or a command
    fixed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "repair": self.repair, "fixed": self.fixed}


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
        conn.execute(ensure_schema_sql())
        recorded = {
            r[0]: (r[1], r[2]) for r in conn.execute(f"SELECT revision, change, phase FROM {SCHEMA}.revision_state")
        }
        for rid in sorted(applied - set(recorded)):
            rev = project.revisions[rid]
            f = Finding(
                "state-missing",
                f"{rid} is applied (alembic_version) but has no revision_state row",
                f"INSERT INTO {SCHEMA}.revision_state (revision, change, phase) VALUES "
                f"('{rid}', {_lit(rev.change)}, {_lit(rev.phase)})",
            )
            if fix:
                conn.execute(
                    f"INSERT INTO {SCHEMA}.revision_state (revision, change, phase) VALUES (%s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    (rid, rev.change, rev.phase),
                )
                f.fixed = True
            findings.append(f)
        for rid in sorted(set(recorded) - applied):
            if rid in unknown:
                continue
            f = Finding(
                "state-stale",
                f"revision_state says {rid} is applied but alembic_version does not",
                f"DELETE FROM {SCHEMA}.revision_state WHERE revision = '{rid}'",
            )
            if fix:
                conn.execute(f"DELETE FROM {SCHEMA}.revision_state WHERE revision = %s", (rid,))
                f.fixed = True
            findings.append(f)
        for schema, index, table in conn.execute(
            "SELECT n.nspname, c.relname, t.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT i.indisvalid ORDER BY 1, 2"
        ).fetchall():
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
            findings.append(f)
        held = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = %s AND granted",
            (ADVISORY_LOCK_KEY,),
        ).fetchone()
        if not (held and held[0]):
            stale = [r[0] for r in conn.execute(f"SELECT id FROM {SCHEMA}.runs WHERE outcome = 'running'")]
            for run_id in stale:
                f = Finding(
                    "interrupted-run",
                    f"run {run_id} is marked running but no runner holds the lock (the process was killed)",
                    f"UPDATE {SCHEMA}.runs SET outcome = 'interrupted' WHERE id = {run_id}",
                )
                if fix:
                    conn.execute(
                        f"UPDATE {SCHEMA}.runs SET outcome = 'interrupted', finished_at = now() WHERE id = %s",
                        (run_id,),
                    )
                    f.fixed = True
                findings.append(f)
    return findings


def _lit(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"
