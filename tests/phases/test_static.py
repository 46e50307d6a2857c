"""The project read from its files without Alembic (gate, serve, heads --stamp) is the project Alembic
reads, or the reader hands over to Alembic: never a different answer."""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

import pytest

from expandcontract.config import load_config
from expandcontract.phases.project import Project, load_project
from expandcontract.phases.static import _read, _Unsure, read_project
from tests.phases.conftest import ProjectFactory


def _graph(p: Project) -> dict[str, tuple[object, ...]]:
    return {
        r.id: (r.lane, r.path.resolve(), r.down_revisions, r.depends_on, r.change, r.phase, r.reversible, r.reason)
        for r in p.revisions.values()
    }


def _same(config_root: Path) -> Project:
    config = load_config(start=config_root)
    static, alembic = _read(config), load_project(config)
    assert _graph(static) == _graph(alembic)
    assert {lane: [r.id for r in revs] for lane, revs in static.lanes.items()} == {
        lane: [r.id for r in revs] for lane, revs in alembic.lanes.items()
    }
    assert {c: [r.id for r in ch.revisions()] for c, ch in static.changes.items()} == {
        c: [r.id for r in ch.revisions()] for c, ch in alembic.changes.items()
    }
    return static


def test_the_example_reads_the_same_without_alembic(tmp_path: Path) -> None:
    root = tmp_path / "example"
    shutil.copytree(str(files("expandcontract") / "data" / "example"), root)
    project = _same(root)
    assert set(project.changes) == {"initial-schema", "users-email-verified", "users-full-name", "orders-id-bigint"}
    assert project.script_ is None  # Alembic not loaded; on first use it is
    assert project.script.dir


def test_a_scaffolded_project_reads_the_same(factory: ProjectFactory) -> None:
    for slug in ("alpha", "beta"):
        factory.new(slug)
    factory.new("gamma", phases=("expand",))
    _same(factory.root)


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace("revision = '", "revision = '' + '", 1),  # computed
        lambda t: t + "\nif True:\n    ec_phase = 'contract'\n",  # changed at import
        lambda t: t.replace("depends_on = '", "depends_on = 'x", 1) if "depends_on = '" in t else t + "\n!!",
    ],
    ids=["computed", "conditional", "unknown-or-broken"],
)
def test_what_only_alembic_can_tell_goes_to_alembic(factory: ProjectFactory, edit) -> None:  # type: ignore[no-untyped-def]
    paths = factory.new("alpha")
    target = paths["migrate"]
    target.write_text(edit(target.read_text()))
    with pytest.raises(_Unsure):
        _read(factory.config)
    try:
        expected = _graph(load_project(factory.config, validate=False))
    except Exception as exc:
        with pytest.raises(type(exc)):
            read_project(factory.config, validate=False)
        return
    assert _graph(read_project(factory.config, validate=False)) == expected
