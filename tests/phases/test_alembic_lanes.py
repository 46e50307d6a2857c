"""Every Alembic behaviour the lane design relies on, proved on a real PostgreSQL through plain
Alembic commands (what a user without our CLI runs)."""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.util import CommandError

from expandcontract.db.connect import connect
from expandcontract.phases.project import load_project, project_problems
from tests.phases.conftest import ProjectFactory


def _alembic(factory: ProjectFactory, url: str) -> AlembicConfig:
    acfg = AlembicConfig(str(factory.root / "alembic.ini"))
    acfg.set_main_option("sqlalchemy.url", url.replace("postgresql://", "postgresql+psycopg://", 1))
    return acfg


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with connect(url) as conn:
        return conn.execute(sql).fetchall()


def _versions(url: str) -> set[str]:
    return {r[0] for r in _rows(url, "SELECT version_num FROM alembic_version")}


def _state(url: str) -> set[str]:
    return {r[0] for r in _rows(url, "SELECT revision FROM expandcontract.revision_state")}


@pytest.fixture
def two_changes(factory: ProjectFactory) -> tuple[ProjectFactory, dict[str, dict[str, Path]]]:
    a = factory.new(
        "users-email", expand='op.execute("CREATE TABLE a (id int)")', expand_down='op.execute("DROP TABLE a")'
    )
    b = factory.new(
        "orders-total", expand='op.execute("CREATE TABLE b (id int)")', expand_down='op.execute("DROP TABLE b")'
    )
    return factory, {"a": a, "b": b}


def _ids(factory: ProjectFactory) -> dict[str, str]:
    p = factory.project()
    return {
        f"{c.slug}.{ph}": r.id
        for c in p.changes.values()
        for ph in ("expand", "migrate", "contract")
        if (r := c.revision(ph)) is not None
    }


def test_lane_head_upgrades_only_that_lane(two_changes, database_url: str) -> None:  # type: ignore[no-untyped-def]
    factory, _ = two_changes
    ids = _ids(factory)
    command.upgrade(_alembic(factory, database_url), "expand@head")
    assert _versions(database_url) == {ids["orders-total.expand"]}
    assert _state(database_url) == {ids["users-email.expand"], ids["orders-total.expand"]}
    assert {r[0] for r in _rows(database_url, "SELECT tablename FROM pg_tables WHERE tablename IN ('a','b')")} == {
        "a",
        "b",
    }


def test_upgrading_a_contract_applies_its_dependencies_first(two_changes, database_url: str) -> None:  # type: ignore[no-untyped-def]
    factory, _ = two_changes
    ids = _ids(factory)
    command.upgrade(_alembic(factory, database_url), ids["users-email.contract"])
    assert _state(database_url) == {ids["users-email.expand"], ids["users-email.migrate"], ids["users-email.contract"]}
    # alembic_version keeps only effective heads: the expand is implied by the migrate/contract
    assert ids["users-email.expand"] not in _versions(database_url)


def test_downgrading_an_expand_cascades_into_its_dependents(two_changes, database_url: str) -> None:  # type: ignore[no-untyped-def]
    factory, _ = two_changes
    ids = _ids(factory)
    acfg = _alembic(factory, database_url)
    command.upgrade(acfg, "heads")
    assert len(_state(database_url)) == 6
    command.downgrade(acfg, ids["users-email.expand"])  # keep the first expand: undo the second change
    assert _state(database_url) == {ids["users-email.expand"], ids["users-email.migrate"], ids["users-email.contract"]}
    command.downgrade(acfg, "expand@base")
    assert _state(database_url) == set()
    assert _versions(database_url) == set()


def test_a_lane_branching_off_another_lanes_labelled_revision_inherits_its_label(factory: ProjectFactory) -> None:
    factory.new("users-email", phases=("expand",))
    expand_id = factory.project().lane_head("expand").id  # type: ignore[union-attr]
    acfg = AlembicConfig(str(factory.root / "alembic.ini"))
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the mistake our lanes avoid: a migrate revision whose down_revision is the expand
        command.revision(acfg, "bad", head=expand_id, version_path=str(factory.root / "migrations/versions/migrate"))
        command.revision(
            acfg,
            "other expand",
            head=expand_id,
            splice=True,
            version_path=str(factory.root / "migrations/versions/expand"),
        )
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(acfg)
    with pytest.raises(CommandError, match=r"[Mm]ultiple"):
        script.get_revision("expand@head")


def test_a_second_head_in_a_lane_is_reported_with_both_names_and_the_fix(factory: ProjectFactory) -> None:
    factory.new("users-email", phases=("expand",))
    first = factory.project().lane_head("expand")
    assert first is not None
    acfg = AlembicConfig(str(factory.root / "alembic.ini"))
    with contextlib.redirect_stdout(io.StringIO()):
        second = command.revision(
            acfg,
            "parallel branch",
            head=first.id,
            splice=True,
            version_path=str(factory.root / "migrations/versions/expand"),
        )
        third = command.revision(
            acfg, "another", head=first.id, splice=True, version_path=str(factory.root / "migrations/versions/expand")
        )
    problems = project_problems(load_project(factory.config, validate=False))
    assert len(problems) == 1
    assert "expand lane has 2 heads" in problems[0]
    assert second.revision in problems[0] and third.revision in problems[0]  # type: ignore[union-attr]
    assert "alembic merge" in problems[0]


def test_redundant_depends_on_breaks_alembic_and_is_reported(two_changes, database_url: str) -> None:  # type: ignore[no-untyped-def]
    factory, paths = two_changes
    ids = _ids(factory)
    contract = paths["b"]["contract"]
    text = contract.read_text().replace(
        f"depends_on = '{ids['orders-total.migrate']}'",
        f"depends_on = ['{ids['orders-total.expand']}', '{ids['orders-total.migrate']}']",
    )
    contract.write_text(text)
    problems = project_problems(load_project(factory.config, validate=False))
    assert any("already imply" in p and ids["orders-total.expand"] in p for p in problems)
    acfg = _alembic(factory, database_url)
    command.upgrade(acfg, "migrate@head")
    command.upgrade(acfg, ids["users-email.contract"])
    with pytest.raises(KeyError):  # the Alembic failure the check prevents
        command.upgrade(acfg, "contract@head")
