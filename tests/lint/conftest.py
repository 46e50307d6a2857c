"""Fixtures for the linter tests: throwaway Alembic projects with expand / migrate / contract lanes."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

INI = """\
[alembic]
script_location = %(here)s/migrations
path_separator = space
version_locations = %(here)s/migrations/versions/expand %(here)s/migrations/versions/migrate \
    %(here)s/migrations/versions/contract
"""

ENV = """\
from alembic import context
"""

REVISION = '''\
"""{message}"""
from alembic import op
import sqlalchemy as sa

revision = {rev!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {depends!r}
{extra}

def upgrade():
{body}


def downgrade():
    pass
'''


class ProjectMaker:
    """Writes revisions lane by lane; each lane's first revision is its base with the lane's label."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "alembic.ini").write_text(INI)
        mig = root / "migrations"
        for lane in ("expand", "migrate", "contract"):
            (mig / "versions" / lane).mkdir(parents=True)
        (mig / "env.py").write_text(ENV)
        (mig / "script.py.mako").write_text("")
        self.heads: dict[str, str | None] = {"expand": None, "migrate": None, "contract": None}
        self.by_change: dict[tuple[str, str], str] = {}

    def add(
        self,
        body: str,
        *,
        phase: str = "expand",
        change: str | None = "c1",
        rev: str | None = None,
        depends_on: object = "auto",
        extra: str = "",
        down: object = "auto",
        phased: bool = True,
    ) -> Path:
        lane = phase
        rev = rev or f"{phase[:2]}{len(list((self.root / 'migrations/versions' / lane).glob('*.py'))) + 1:02d}"
        head = self.heads[lane]
        if depends_on == "auto":
            prior = {"migrate": "expand", "contract": "migrate"}.get(phase)
            dep = self.by_change.get((change or "", prior)) if prior else None
            if phase == "contract" and dep is None:
                dep = self.by_change.get((change or "", "expand"))
            depends_on = dep
        down_rev = head if down == "auto" else down
        meta = f"ec_change = {change!r}\nec_phase = {phase!r}\n" if phased and change else ""
        text = REVISION.format(
            message=f"{phase} {rev}",
            rev=rev,
            down=down_rev,
            labels=(lane,) if down_rev is None else None,
            depends=depends_on,
            extra=meta + textwrap.dedent(extra),
            body=textwrap.indent(textwrap.dedent(body).strip() or "pass", "    "),
        )
        path = self.root / "migrations" / "versions" / lane / f"{rev}.py"
        path.write_text(text)
        self.heads[lane] = rev
        if change:
            self.by_change[(change, phase)] = rev
        return path


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[], ProjectMaker]:
    def make() -> ProjectMaker:
        return ProjectMaker(tmp_path)

    return make
