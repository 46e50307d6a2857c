"""`expandcontract rehearse`: parse, call `rehearse`, render, exit 0 (clean), 1 (problems) or 2 (bad input).

The global `--database-url` names rehearse's own scratch server (a database is created there and
dropped afterwards); without it the embedded scratch server is used. The application database
(DATABASE_URL, the config, alembic.ini) is never connected to.
"""

from __future__ import annotations

import json
import sys

import click

from expandcontract.cli._common import app, command, format_option, sigterm_as_interrupt
from expandcontract.cli._stdout import stdout_to_stderr
from expandcontract.errors import EXIT_PROBLEMS


@command()
@click.option(
    "--old",
    metavar="GIT_REF",
    default="HEAD",
    show_default=True,
    help="The released code: its revisions build the starting schema, its models run the old traffic.",
)
@click.option(
    "--old-models", metavar="SPEC", default=None, help="The old release's models (module.path:attr or file.py:attr)."
)
@click.option(
    "--new-models", metavar="SPEC", default=None, help="The new release's models (default: models in the config)."
)
@click.option("--rows", type=int, default=10_000, show_default=True, help="Sample rows per table before anything runs.")
@click.option("--seconds", type=float, default=2.0, show_default=True, help="Seconds of traffic per step.")
@click.option(
    "--max-lock-wait-ms",
    type=float,
    default=500.0,
    show_default=True,
    help="An app statement waiting this long on a lock the migration holds is a stall.",
)
@format_option("text", "json")
def rehearse(
    old: str,
    old_models: str | None,
    new_models: str | None,
    rows: int,
    seconds: float,
    max_lock_wait_ms: float,
    fmt: str,
) -> None:
    """Replay the deploy of the pending changes on a scratch PostgreSQL while both releases serve traffic.

    The schema of the old release (every revision at --old), sample rows, then for the pending
    revisions: each expand under the old release's traffic, the new release joining, a rollback to the
    old release alone, the old release gone, each migrate and contract under the new one. Fails on any
    app error, lock stall, divergence of a renamed column (ec_renames) or failed phase.
    """
    from expandcontract.phases.project import load_project
    from expandcontract.rehearse import Options
    from expandcontract.rehearse import rehearse as run_rehearsal

    ctx = app()
    # CI cancellation: workers stopped, scratch database dropped; revisions' output kept off the JSON document
    with sigterm_as_interrupt(), stdout_to_stderr(fmt == "json"):
        report = run_rehearsal(
            load_project(ctx.config()),
            old=old,
            old_models=old_models,
            new_models=new_models,
            options=Options(rows=rows, seconds=seconds, max_lock_wait_ms=max_lock_wait_ms),
            server_url=ctx.database_url,
            progress=lambda line: click.echo(line, err=True),
        )
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        click.echo(report.render_text())
    if not report.ok:
        sys.exit(EXIT_PROBLEMS)
