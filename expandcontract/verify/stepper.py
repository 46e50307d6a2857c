"""Alembic, one revision at a time, on a connection we own.

One ScriptDirectory is reused and each step runs through `EnvironmentContext(cfg, script, fn=...)` +
`script.run_env()` (6-8 ms a step, against ~60 ms for the command API, which re-imports every revision
file). The project's env.py takes the connection from `config.attributes["connection"]`; a downgrade is
handed exactly one step, so it never cascades further than the revision under test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from expandcontract.db.handover import handed_over
from expandcontract.errors import ProjectError, RevisionExited
from expandcontract.names import SCHEMA
from expandcontract.phases.project import Project


def check_env_py(project: Project) -> None:
    """Refuse an env.py that would ignore our connection (it could migrate the application database)."""
    env_py = Path(project.script.dir) / "env.py"
    text = env_py.read_text() if env_py.is_file() else ""
    if "expandcontract" not in text and "attributes" not in text:
        raise ProjectError(
            f"{env_py} does not use the connection verify hands it; call "
            "`from expandcontract.env import run_migrations; run_migrations(target_metadata)` there, or read "
            'config.attributes["connection"]'
        )


# statements that change nothing in the database (the first word); what else a step runs is a write
_READS = frozenset({"SELECT", "SHOW", "SET", "RESET", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})


class Stepper:
    """Upgrades and downgrades revisions of `project` in the database at `url`, over `driver` (None: the
    default, db/url.py). `writes` counts the statements of the last step that could change the database
    beyond Alembic's and our own bookkeeping (0: the revision did nothing here, e.g. dialect-guarded)."""

    def __init__(self, project: Project, url: str, driver: str | None = None) -> None:
        import sqlalchemy as sa

        from expandcontract.db.connect import make_engine

        self.project = project
        self.url = url
        self.driver = driver
        self.engine = make_engine(url, driver=driver, poolclass=sa.pool.NullPool)
        self.writes = 0
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        self.conn = self.engine.connect()

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.lstrip().split(None, 1)
        if not words or words[0].upper() in _READS:
            return
        if "alembic_version" in statement or f"{SCHEMA}." in statement or f"SCHEMA IF NOT EXISTS {SCHEMA}" in statement:
            return
        self.writes += 1

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            self.engine.dispose()

    def upgrade(self, target: str) -> None:
        """Apply `target` and whatever it needs that is not applied yet."""
        script = self.project.script
        self._run(lambda rev: script._upgrade_revs(target, rev), target)

    def upgrade_all(self, targets: Iterable[str]) -> None:
        for target in targets:
            self.upgrade(target)

    def downgrade(self, revision: str) -> None:
        """Undo exactly `revision` (it must be applied, with nothing applied that depends on it)."""
        from alembic.runtime.migration import MigrationStep

        script = self.project.script
        sc = script.get_revision(revision)
        assert sc is not None
        self._run(lambda rev: [MigrationStep.downgrade_from_script(script.revision_map, sc)], revision)

    def _run(self, steps: Callable[[Any], Any], destination: str) -> None:
        from alembic.runtime.environment import EnvironmentContext

        cfg = self.project.alembic_cfg
        self.writes = 0
        try:
            with (
                handed_over(cfg, self.conn, self.url, self.driver),
                EnvironmentContext(
                    cfg, self.project.script, fn=lambda rev, _ctx: steps(rev), destination_rev=destination
                ),
            ):
                self.project.script.run_env()
        except SystemExit as stop:
            if self.conn.in_transaction():
                self.conn.rollback()
            raise RevisionExited(f"it called sys.exit({stop.code!r}); raise an exception instead") from None
        except BaseException:
            if self.conn.in_transaction():
                self.conn.rollback()
            raise
