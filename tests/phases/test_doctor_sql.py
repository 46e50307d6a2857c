"""`doctor --fix` builds its SQL with psycopg.sql: an object name is an identifier, never SQL text."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from expandcontract.db.connect import connect
from expandcontract.phases.doctor import diagnose
from expandcontract.phases.run import run_phase
from tests.phases.conftest import ProjectFactory
from tests.phases.test_runner import TABLE

HOSTILE = 'ix"; DROP TABLE keep; --'


def test_doctor_fix_drops_an_invalid_index_with_a_hostile_name(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None]
) -> None:
    factory.new("users", phases=("expand",), expand=TABLE)
    project = factory.project()
    run_phase(project, database_url, "expand", "users", notify=notify)
    with connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE keep (id int)")
        conn.execute("INSERT INTO users VALUES (1, 'a'), (2, 'a')")
        with pytest.raises(psycopg.errors.UniqueViolation):  # leaves the index INVALID
            conn.execute(f'CREATE UNIQUE INDEX CONCURRENTLY "{HOSTILE.replace(chr(34), chr(34) * 2)}" ON users (name)')
    (finding,) = [f for f in diagnose(project, database_url) if f.kind == "invalid-index"]
    assert 'DROP INDEX CONCURRENTLY IF EXISTS "public"."ix""; DROP TABLE keep; --"' in finding.repair
    (fixed,) = [f for f in diagnose(project, database_url, fix=True) if f.kind == "invalid-index"]
    assert fixed.fixed
    with connect(database_url) as conn:
        assert conn.execute("SELECT to_regclass('keep') IS NOT NULL").fetchone() == (True,)
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = %s", (HOSTILE,)).fetchone() == (0,)
    assert [f for f in diagnose(project, database_url) if f.kind == "invalid-index"] == []
