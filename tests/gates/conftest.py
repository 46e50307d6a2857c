"""Shared helpers for the gate tests: fixtures as objects, a fake classifier, one-call decisions."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from expandcontract.gates.evaluate import assess
from expandcontract.gates.model import Decision, Target
from expandcontract.gates.objects import ObjectSet
from expandcontract.gates.sources import _flatten
from expandcontract.phases.stamp import PodClass

FIXTURES = Path(__file__).parent / "fixtures"
OLD = "expand=0a1b2c3d4e5f,migrate=-,contract=-"
NEW = "expand=1b2c3d4e5f60,migrate=2c3d4e5f6071,contract=-"
FINAL = "expand=1b2c3d4e5f60,migrate=2c3d4e5f6071,contract=3d4e5f607182"
CLASSES = {OLD: PodClass.OLD, NEW: PodClass.NEW, FINAL: PodClass.FINAL}


def fake_classify(stamp: str | None) -> tuple[PodClass, str]:
    if stamp is None:
        return PodClass.UNKNOWN, "no expandcontract.io/schema annotation"
    if stamp in CLASSES:
        return CLASSES[stamp], "fake"
    return PodClass.UNKNOWN, "stamp names revision ffff that this checkout does not know"


def fixture_text(name: str, *, shift: bool = False) -> str:
    """The fixture; `shift` moves every stamp one step on (OLD->NEW, NEW->FINAL) for contract cases."""
    text = (FIXTURES / name).read_text()
    if shift:
        text = text.replace(NEW, FINAL).replace(OLD, NEW)
    return text


def load(name: str, *, shift: bool = False) -> list[dict[str, Any]]:
    return list(_flatten(yaml.safe_load_all(fixture_text(name, shift=shift)), name))


def find(objs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    for obj in objs:
        if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name):
            return obj
    raise KeyError(f"{kind} {name}")


def find_all(objs: list[dict[str, Any]], kind: str, prefix: str = "") -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind and o["metadata"]["name"].startswith(prefix)]


def decide_on(
    objs: list[dict[str, Any]],
    phase: str,
    kind: str,
    name: str = "web",
    *,
    classify: Callable[[str | None], tuple[PodClass, str]] = fake_classify,
    options: dict[str, Any] | None = None,
) -> Decision:
    return assess(
        phase, "users-email", Target(kind, name, "shop"), ObjectSet.of(copy.deepcopy(objs)), classify, options
    )


def codes(decision: Decision) -> set[str]:
    return {r.code for r in decision.reasons}


def deciding(decision: Decision) -> set[str]:
    return {r.code for r in decision.deciding()}


REVISION = '''"""{message}"""
revision = "{rev}"
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {deps!r}
ec_change = "{change}"
ec_phase = "{lane}"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
'''


def write_project(root: Path) -> None:
    (root / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/migrations\npath_separator = space\n"
        "version_locations = %(here)s/migrations/versions/expand %(here)s/migrations/versions/migrate "
        "%(here)s/migrations/versions/contract\n"
    )
    revs = [
        ("expand", "0a1b2c3d4e5f", None, ("expand",), None, "users-created", "add users.created_at"),
        ("expand", "1b2c3d4e5f60", "0a1b2c3d4e5f", None, None, "users-email", "add users.email"),
        ("migrate", "2c3d4e5f6071", None, ("migrate",), "1b2c3d4e5f60", "users-email", "backfill email"),
        ("contract", "3d4e5f607182", None, ("contract",), "2c3d4e5f6071", "users-email", "drop users.mail"),
    ]
    for lane, rev, down, labels, deps, change, message in revs:
        d = root / "migrations" / "versions" / lane
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{rev}_{change.replace('-', '_')}.py").write_text(
            REVISION.format(rev=rev, down=down, labels=labels, deps=deps, change=change, lane=lane, message=message)
        )


@pytest.fixture
def project_root(tmp_path: Path) -> Path:
    """A tiny Alembic project: change users-created (expand) then users-email (expand, migrate, contract)."""
    write_project(tmp_path)
    return tmp_path
