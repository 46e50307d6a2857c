"""The SQL a plan would run, rendered offline (no database), for `plan`.

Each revision's `upgrade()` runs against an offline MigrationContext that writes SQL to a buffer.
Best effort: a revision that reads data (`op.get_bind().execute(...)`) cannot be rendered offline, and
says so in place of its SQL. `op.backfill` renders as a comment once registered (the CLI imports
expandcontract.backfill.op; phases never imports backfill).
"""

from __future__ import annotations

import io
import warnings

from expandcontract.phases.planner import Plan


def offline_sql(plan: Plan) -> dict[str, str]:
    """revision id -> its SQL (or a `-- cannot render offline: ...` line)."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    out: dict[str, str] = {}
    for step in plan.steps:
        buf = io.StringIO()
        ctx = MigrationContext.configure(
            dialect_name="postgresql",
            opts={"as_sql": True, "output_buffer": buf, "literal_binds": True, "transactional_ddl": False},
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Operations.context(ctx):
                    step.revision.module.upgrade()
        except SystemExit as stop:  # would end `plan` with the revision's exit code and nothing printed
            buf.write(f"-- cannot render offline: upgrade() called sys.exit({stop.code!r})\n")
        except Exception as exc:
            buf.write(f"-- cannot render offline: {type(exc).__name__}: {exc}\n")
        text = "\n".join(ln for ln in buf.getvalue().splitlines() if ln.strip())
        out[step.revision.id] = text or "-- (no SQL)"
    return out
