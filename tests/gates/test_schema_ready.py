"""rollout-start: the schema_ready hook `serve` wires when it has a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from expandcontract.config import Config
from expandcontract.gates.schema import readiness, schema_ready_hook
from expandcontract.phases.project import Project, load_project

from .conftest import FINAL, NEW, OLD

E1, E2, M2, C2 = "0a1b2c3d4e5f", "1b2c3d4e5f60", "2c3d4e5f6071", "3d4e5f607182"


@pytest.fixture
def project(project_root: Path) -> Project:
    return load_project(Config(root=project_root))


def test_every_expand_of_the_stamp_must_be_applied(project: Project) -> None:
    ready, why = readiness(project, NEW, set())
    assert not ready
    assert E1 in why and E2 in why and "users-email" in why
    assert readiness(project, NEW, {E1})[0] is False
    assert readiness(project, NEW, {E1, E2})[0] is True
    ready, why = readiness(project, FINAL, {E1, E2})  # FINAL code no longer dual-writes: the backfill must be done
    assert not ready and M2 in why
    assert readiness(project, FINAL, {E1, E2, M2})[0] is True


def test_a_contract_the_image_predates_must_not_be_applied(project: Project) -> None:
    assert readiness(project, OLD, {E1, E2, M2})[0] is True
    ready, why = readiness(project, OLD, {E1, E2, M2, C2})
    assert not ready and C2 in why and "predates" in why
    assert readiness(project, FINAL, {E1, E2, M2, C2})[0] is True


def test_unresolvable_stamps_raise(project: Project) -> None:
    with pytest.raises(ValueError, match="does not know"):
        readiness(project, "expand=ffffffffffff,migrate=-,contract=-", set())
    with pytest.raises(ValueError, match="malformed"):
        readiness(project, "garbage", set())


@pytest.mark.integration
def test_hook_reads_the_database_heads(project: Project, database_url: str) -> None:
    from expandcontract.db.connect import connect

    hook = schema_ready_hook(project, database_url)
    with connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES (%s)", (E1,))
    assert hook(NEW)[0] is False
    with connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = %s", (M2,))  # implies E2 and E1
    assert hook(NEW) == (True, "every expand the image was built with is applied and no later contract is")
    with connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = %s", ("feedfacecafe",))
    with pytest.raises(ValueError, match="does not know"):
        hook(NEW)
