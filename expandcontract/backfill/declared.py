"""The backfills the revision files declare: where a worker takes its SQL from.

`backfill work NAME` must run the SQL of the revision it was shipped with, never SQL read back from the
checkpoint table (a row anyone with write access to that table could change). So the worker runs each
revision's `upgrade()` offline, with `op.backfill` recording its arguments instead of rendering them
(op.COLLECT), and picks the call named NAME. Revisions that cannot run offline are skipped.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from expandcontract.backfill import op
from expandcontract.backfill.errors import BackfillInputError
from expandcontract.backfill.spec import Spec


def specs(modules: Iterable[Any]) -> dict[str, Spec]:
    """name -> the Spec of every op.backfill() call in these revision modules' upgrade()."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    found: dict[str, Spec] = {}
    for module in modules:
        if not _mentions_backfill(module):
            continue
        collected: list[Spec] = []
        token = op.COLLECT.set(collected)
        ctx = MigrationContext.configure(
            dialect_name="postgresql",
            opts={"as_sql": True, "output_buffer": io.StringIO(), "literal_binds": True, "transactional_ddl": False},
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Operations.context(ctx):
                    module.upgrade()
        except BackfillInputError:
            raise  # a call that is refused online is refused here too, with the same line
        except Exception:
            pass
        finally:
            op.COLLECT.reset(token)
        for s in collected:
            found.setdefault(s.name, s)
    return found


def _mentions_backfill(module: Any) -> bool:
    path = getattr(module, "__file__", None)
    if not path:
        return True
    try:
        return "backfill" in Path(path).read_text(errors="replace")
    except OSError:
        return True
