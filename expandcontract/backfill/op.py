"""`op.backfill(table, values={...}, where=...)`: the Alembic operation a migrate revision calls.

Registered on import (expandcontract/env.py imports this module). Online, the op commits the revision's
transaction, runs every batch on a connection of its own inside `autocommit_block()`, and returns only when
the backfill is done, so Alembic records the revision only then: a killed run leaves the revision pending
and the next `run migrate` resumes the backfill from its checkpoint. Offline (`--sql`) it writes a comment:
a backfill's batches depend on live data and cannot be rendered as a script.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from alembic.operations import MigrateOperation, Operations

from expandcontract.names import ATTR_BATCH_GUARD, ATTR_CONFIG

PROGRESS_ATTR = "expandcontract.backfill.progress"


@Operations.register_operation("backfill")
class BackfillOp(MigrateOperation):
    """Fill columns of an existing table in keyset batches; see docs/backfill.md."""

    def __init__(
        self,
        table: str,
        values: dict[str, str],
        where: str | None = None,
        *,
        name: str | None = None,
        batch_time_ms: int | None = None,
        key: Sequence[str] | None = None,
        schema: str | None = None,
    ) -> None:
        self.table = table
        self.values = dict(values)
        self.where = where
        self.name = name
        self.batch_time_ms = batch_time_ms
        self.key = tuple(key) if key else None
        self.schema = schema

    @classmethod
    def backfill(
        cls,
        operations: Operations,
        table: str,
        values: dict[str, str],
        where: str | None = None,
        *,
        name: str | None = None,
        batch_time_ms: int | None = None,
        key: Sequence[str] | None = None,
        schema: str | None = None,
    ) -> Any:
        """op.backfill("users", values={"email_verified": "false"}, where="email_verified IS NULL")."""
        if name is None:
            change = _caller_change()
            name = f"{change}.{table}" if change else table
        return operations.invoke(
            cls(table, values, where, name=name, batch_time_ms=batch_time_ms, key=key, schema=schema)
        )

    def reverse(self) -> MigrateOperation:
        raise NotImplementedError("a backfill has no automatic reverse; write the downgrade by hand")


def _caller_change() -> str | None:
    """`ec_change` of the revision module calling op.backfill (the default name is `<change>.<table>`)."""
    frame = sys._getframe(1)
    while frame is not None:
        change = frame.f_globals.get("ec_change")
        if isinstance(change, str) and "revision" in frame.f_globals:
            return change
        frame = frame.f_back  # type: ignore[assignment]
    return None


@Operations.implementation_for(BackfillOp)
def run_backfill(operations: Operations, operation: BackfillOp) -> None:
    ctx = operations.get_context()
    assert operation.name is not None
    if ctx.as_sql:
        sets = ", ".join(f"{c} = {v}" for c, v in operation.values.items())
        where = f" WHERE {operation.where}" if operation.where else ""
        table = f"{operation.schema}.{operation.table}" if operation.schema else operation.table
        ctx.impl.static_output(
            f"-- expandcontract backfill {operation.name}: UPDATE {table} SET {sets}{where} "
            "in keyset batches, run online (`expandcontract run migrate`); not part of this script"
        )
        return
    from expandcontract.backfill import api
    from expandcontract.backfill.spec import Spec
    from expandcontract.db.url import validate

    bind = operations.get_bind()
    url = validate(bind.engine.url.render_as_string(hide_password=False))
    attrs: dict[str, Any] = ctx.config.attributes if ctx.config is not None else {}
    spec = Spec(
        name=operation.name,
        table=operation.table,
        values=operation.values,
        where=operation.where,
        schema=operation.schema,
        key=operation.key,
        batch_time_ms=operation.batch_time_ms,
    )
    with ctx.autocommit_block():
        api.run(url, spec, _config(ctx, attrs), attrs.get(PROGRESS_ATTR), batch_guard=attrs.get(ATTR_BATCH_GUARD))


def _config(ctx: Any, attrs: dict[str, Any]) -> Any:
    from pathlib import Path

    from expandcontract.config import Config, load_config

    cfg = attrs.get(ATTR_CONFIG)
    if isinstance(cfg, Config):
        return cfg.backfill
    ini = getattr(ctx.config, "config_file_name", None) if ctx.config is not None else None
    return load_config(start=Path(ini).resolve().parent if ini else None).backfill
