from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig

from expandcontract.config import load_config
from expandcontract.errors import ProjectError, UsageError
from expandcontract.phases import adopt, scaffold
from expandcontract.phases.project import load_project
from expandcontract.phases.stamp import Classifier, PodClass, make_stamp, parse_stamp
from tests.phases.conftest import ProjectFactory


def test_init_lays_out_three_lanes_and_config(tmp_path: Path) -> None:
    result = adopt.init(tmp_path)
    assert (tmp_path / "alembic.ini").is_file()
    for lane in ("expand", "migrate", "contract"):
        assert (tmp_path / "migrations" / "versions" / lane).is_dir()
    assert "[tool.expandcontract]" in (tmp_path / "pyproject.toml").read_text()
    env = (tmp_path / "migrations" / "env.py").read_text()
    assert len([ln for ln in env.splitlines() if ln.strip()]) <= 10
    assert result.adopted_base is None


def test_new_links_the_three_phases_each_lane_its_own_base(factory: ProjectFactory) -> None:
    paths = factory.new("users-email-verified")
    project = factory.project()
    ch = project.change("users-email-verified")
    assert ch.expand and ch.migrate and ch.contract
    for rev in (ch.expand, ch.migrate, ch.contract):
        assert rev.down_revisions == ()  # each lane's first revision is its own base
    assert ch.migrate.depends_on == (ch.expand.id,)
    assert ch.contract.depends_on == (ch.migrate.id,)
    assert paths["migrate"].parent.name == "migrate"
    body = paths["contract"].read_text()
    assert "ec_change = 'users-email-verified'" in body and "ec_phase = 'contract'" in body
    assert "    pass" in body and "TODO" in body
    assert "ec_reversible = True" in paths["migrate"].read_text() and "ec_reversible" not in body
    factory.new("orders-total")
    project = factory.project()
    second = project.change("orders-total")
    assert second.expand.down_revisions == (ch.expand.id,)  # type: ignore[union-attr]
    assert second.contract.down_revisions == (ch.contract.id,)  # type: ignore[union-attr]


def test_contract_added_later_depends_on_the_existing_migrate(factory: ProjectFactory) -> None:
    factory.new("users-rename", phases=("expand", "migrate"))
    assert factory.project().change("users-rename").contract is None
    factory.new("users-rename", phases=("contract",))
    ch = factory.project().change("users-rename")
    assert ch.contract is not None and ch.contract.depends_on == (ch.migrate.id,)  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="already has a contract"):
        factory.new("users-rename", phases=("contract",))


@pytest.mark.parametrize("slug", ["Users", "-x", "users_email", "", "a b"])
def test_new_rejects_bad_slugs(factory: ProjectFactory, slug: str) -> None:
    with pytest.raises(UsageError, match="slug"):
        factory.new(slug)


def test_contract_without_expand_is_refused(factory: ProjectFactory) -> None:
    with pytest.raises(UsageError, match="no expand revision"):
        factory.new("orphan", phases=("contract",))


def test_stamp_changes_with_any_lane_head_and_classifies_pods(factory: ProjectFactory) -> None:
    factory.new("users-email")
    p1 = factory.project()
    s1 = make_stamp(p1)
    assert set(parse_stamp(s1)) == {"expand", "migrate", "contract"}
    factory.new("orders-total", phases=("expand",))
    p2 = factory.project()
    s2 = make_stamp(p2)
    assert s1 != s2
    ch = p2.change("users-email")
    old = "expand=-,migrate=-,contract=-"
    new = f"expand={ch.expand.id},migrate={ch.migrate.id},contract=-"  # type: ignore[union-attr]
    c = Classifier(p2, "users-email")
    assert c.classify(old) is PodClass.OLD
    assert c.classify(new) is PodClass.NEW
    assert c.classify(s2) is PodClass.FINAL
    assert c.classify(None) is PodClass.UNKNOWN
    assert c.classify("expand=feedbeef0000,migrate=-,contract=-") is PodClass.UNKNOWN
    assert "does not know" in c.explain("expand=feedbeef0000,migrate=-,contract=-")[1]
    assert c.classify("garbage") is PodClass.UNKNOWN


def test_syntax_error_in_a_revision_names_file_and_line(factory: ProjectFactory) -> None:
    paths = factory.new("users-email", phases=("expand",))
    paths["expand"].write_text(paths["expand"].read_text() + "\ndef broken(:\n")
    with pytest.raises(ProjectError) as err:
        factory.project()
    assert f"{paths['expand']}:" in str(err.value) and "syntax error" in str(err.value)
    assert err.value.exit_code == 2


def test_phase_that_disagrees_with_its_lane(factory: ProjectFactory) -> None:
    paths = factory.new("users-email", phases=("expand", "migrate"))
    paths["migrate"].write_text(paths["migrate"].read_text().replace("ec_phase = 'migrate'", "ec_phase = 'contract'"))
    with pytest.raises(ProjectError, match="ec_phase = 'contract' but the file is in the migrate lane"):
        factory.project()


def test_contract_that_does_not_depend_on_its_change(factory: ProjectFactory) -> None:
    paths = factory.new("users-email")
    text = paths["contract"].read_text()
    import re

    paths["contract"].write_text(re.sub(r"depends_on = '[0-9a-f]+'", "depends_on = None", text))
    with pytest.raises(ProjectError, match="does not depend on"):
        factory.project()


def test_init_adopts_an_existing_linear_alembic_history(tmp_path: Path) -> None:
    acfg = AlembicConfig(str(tmp_path / "alembic.ini"))
    with contextlib.redirect_stdout(io.StringIO()):
        command.init(acfg, str(tmp_path / "migrations"))
        acfg = AlembicConfig(str(tmp_path / "alembic.ini"))
        r1 = command.revision(acfg, "first")
        r2 = command.revision(acfg, "second")
    result = adopt.init(tmp_path)
    assert result.adopted_base == r1.revision  # type: ignore[union-attr]
    project = load_project(load_config(start=tmp_path))
    assert [r.id for r in project.lanes["expand"]] == [r1.revision, r2.revision]  # type: ignore[union-attr]
    with contextlib.redirect_stdout(io.StringIO()):
        made = scaffold.new(load_config(start=tmp_path), "add x", "users-x")
    project = load_project(load_config(start=tmp_path))
    ch = project.change("users-x")
    assert ch.expand is not None and ch.expand.down_revisions == (r2.revision,)  # type: ignore[union-attr]
    assert made[1].path.parent == tmp_path / "migrations" / "versions" / "migrate"


def test_contract_whose_change_has_no_expand(factory: ProjectFactory) -> None:
    paths = factory.new("users-email")
    import re

    text = paths["expand"].read_text()
    paths["expand"].write_text(re.sub(r"ec_change = '[a-z-]+'", "ec_change = 'other-change'", text))
    with pytest.raises(ProjectError, match="contract of change 'users-email' has no expand revision"):
        factory.project()


def test_relative_script_location_is_resolved_against_the_ini(
    factory: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory.new("users-email", phases=("expand",))
    ini = factory.root / "alembic.ini"
    ini.write_text(ini.read_text().replace("script_location = %(here)s/migrations", "script_location = migrations"))
    monkeypatch.chdir(factory.root.parent)  # not the project directory
    assert "users-email" in factory.project().changes
