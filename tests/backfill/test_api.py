"""The public names of expandcontract.backfill, pinned: the runner, the demo and the CLI import these."""

from __future__ import annotations

import expandcontract.backfill as backfill
from expandcontract import names
from expandcontract.backfill import op


def test_public_api_is_pinned() -> None:
    assert backfill.__all__ == ["Result", "Spec", "register", "run", "work"]
    assert op.PROGRESS_ATTR == "expandcontract.backfill.progress"
    assert names.ATTR_CONFIG == "expandcontract.config"  # the runner hands the config to op.backfill


def test_op_is_registered_on_alembic_operations() -> None:
    from alembic.operations import Operations

    assert hasattr(Operations, "backfill")
