"""`db start|stop|status`: the embedded PostgreSQL under the project's data dir."""

from __future__ import annotations

import json

import click

from expandcontract.cli._common import app, global_options, handle_errors


@click.group()
@global_options
def db() -> None:
    """Start, stop or inspect the embedded PostgreSQL (used when no database URL is given)."""


@db.command()
@global_options
@handle_errors
def start() -> None:
    """Start it (initialising the data dir on first use) and print its URL."""
    from expandcontract.db import embedded

    click.echo(embedded.start(app().config().data_path))


@db.command()
@global_options
@handle_errors
def stop() -> None:
    """Stop it."""
    from expandcontract.db import embedded

    path = app().config().data_path
    click.echo("stopped" if embedded.stop(path) else f"not running ({path})")


@db.command()
@global_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@handle_errors
def status(fmt: str) -> None:
    """Whether it runs, where, and its URL."""
    from expandcontract.db import embedded

    st = embedded.status(app().config().data_path)
    if fmt == "json":
        click.echo(json.dumps({"running": st.running, "pgdata": str(st.pgdata), "url": st.url, "pid": st.pid}))
    elif st.running:
        click.echo(f"running (pid {st.pid}) in {st.pgdata}: {st.url}")
    else:
        click.echo(f"not running ({st.pgdata})")
