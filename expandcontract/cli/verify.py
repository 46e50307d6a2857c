"""`expandcontract verify`: parse, call `verify_project`, render, exit 0 (all pass) or 1 (any failure).

The global `--database-url` is verify's own scratch server here (databases are created and dropped on
it); without it the embedded scratch server is used. DATABASE_URL and the config's database are never
consulted, so `app().database_url_resolved()` is deliberately not called.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from expandcontract.cli._common import app, command, format_option, sigterm_as_interrupt
from expandcontract.cli._stdout import stdout_to_stderr
from expandcontract.errors import EXIT_PROBLEMS

ORDER_CHOICES = ("alembic", "change", "release", "all")


@command()
@click.option("--since", metavar="GIT_REF", default=None, help="Verify only revisions changed since GIT_REF.")
@click.option(
    "--order",
    type=click.Choice(ORDER_CHOICES),
    default="all",
    show_default=True,
    help="Upgrade order(s) to verify in: Alembic's `upgrade heads`, per change, per release, or all three.",
)
@click.option(
    "--baseline",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="SQL of what exists before the first revision (pg_dump --schema-only --no-owner), loaded first.",
)
@format_option("text", "json")
def verify(since: str | None, order: str, baseline: Path | None, fmt: str) -> None:
    """Check every revision upgrades, downgrades and upgrades again leaving schema and data as they were.

    Runs on scratch databases: the embedded PostgreSQL by default, or the server given by --database-url
    (databases are created there and dropped afterwards). Never touches the application database.
    """
    from expandcontract.verify import verify_project
    from expandcontract.verify.orders import ORDERS

    ctx = app()
    orders = ORDERS if order == "all" else (order,)
    # CI cancellation: the scratch databases are still dropped; revisions' output kept off the JSON document
    with sigterm_as_interrupt(), stdout_to_stderr(fmt == "json"):
        report = verify_project(
            ctx.config(),
            server_url=ctx.database_url,
            orders=orders,
            since=since,
            baseline=baseline,
            progress=lambda line: click.echo(line, err=True),
        )
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(report.render_text())
    if not report.ok:
        sys.exit(EXIT_PROBLEMS)
