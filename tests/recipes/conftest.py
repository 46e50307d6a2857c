from __future__ import annotations

from pathlib import Path

import pytest

from tests.recipes.harness import Project


@pytest.fixture
def project(tmp_path: Path, database_url: str, pg_server_url: str) -> Project:
    return Project(tmp_path / "app", database_url, pg_server_url)
