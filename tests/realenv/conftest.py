"""Projects as real applications have them: a baseline made outside Alembic, dialect-guarded revisions, an
app context needed at import time, psycopg2 named in the app's URL. Reuses verify's project builder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from expandcontract.db.url import use_driver
from expandcontract.phases.project import exit_app_contexts
from tests.verify.conftest import Chain, chain  # noqa: F401  (the fixture)

__all__ = ["Chain"]


@pytest.fixture(autouse=True)
def _process_state() -> Iterator[None]:
    """What one CLI process would set (the app's driver, an entered app context) ends with each test."""
    yield
    use_driver(None)
    exit_app_contexts()
