"""Backfill threads started by a test are stopped and joined when the test ends, pass or fail, before its
database is dropped: a thread left running would retry against a vanished database for a minute and
slow or break the tests after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backfill import helpers


@pytest.fixture(autouse=True)
def _current_test(request: pytest.FixtureRequest) -> Iterator[None]:
    helpers.CURRENT_TEST.append(request.node)
    yield
    helpers.CURRENT_TEST.remove(request.node)
