"""`init`, `new` and `heads`: the project's files, no database."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click

from expandcontract.cli._common import app, command, format_option
from expandcontract.phases import LANES


@command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@format_option("text", "json")
def init(directory: Path, fmt: str) -> None:
    """Create alembic.ini, migrations/ with the three lanes and [tool.expandcontract] in DIRECTORY
    (default: here). In an existing Alembic project its linear history becomes the expand lane."""
    from expandcontract.phases.adopt import init as do_init

    result = do_init(directory)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "found": result.found,
                    "already": result.already,
                    "adopted_base": result.adopted_base,
                    "changes": [{"path": str(c.path), "action": c.action, "diff": c.diff} for c in result.changes],
                }
            )
        )
        return
    for line in result.found:
        click.echo(f"found {line}")
    for c in result.changes:
        click.echo(f"{c.action} {c.path}")
        if c.diff:
            click.echo(c.diff.rstrip("\n"))
    if result.adopted_base:
        click.echo(f"adopted the existing history as the expand lane (branch label on {result.adopted_base})")
    if not result.changes:
        click.echo("nothing to change: the project is already set up")
    click.echo('next: expandcontract new "add email_verified to users" --change users-email-verified')


@command()
@click.argument("message")
@click.option("--change", "change", required=True, help="Slug of the change, e.g. users-email-verified.")
@click.option(
    "--phase",
    "phases",
    multiple=True,
    type=click.Choice(list(LANES)),
    help="Phase(s) to add (default: all three). --phase contract adds a contract later.",
)
@format_option("text", "json")
def new(message: str, change: str, phases: tuple[str, ...], fmt: str) -> None:
    """Scaffold the linked revisions of a change: expand, migrate and contract."""
    from expandcontract.phases.scaffold import new as do_new

    with contextlib.redirect_stdout(sys.stderr):  # Alembic prints "Generating ..." on stdout
        made = do_new(app().config(), message, change, phases or LANES)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "change": change,
                    "revisions": [{"phase": m.phase, "revision": m.revision, "path": str(m.path)} for m in made],
                }
            )
        )
        return
    for m in made:
        click.echo(f"{m.phase:<9} {m.revision}  {m.path}")


@command()
@click.option("--stamp", is_flag=True, help="Print only the value for the expandcontract.io/schema annotation.")
@format_option("text", "json")
def heads(stamp: bool, fmt: str) -> None:
    """Lane heads from the revision files (no database)."""
    from expandcontract.phases.project import load_project
    from expandcontract.phases.stamp import make_stamp

    project = load_project(app().config())
    if stamp and fmt != "json":
        click.echo(make_stamp(project))
        return
    data = {lane: (h.id if (h := project.lane_head(lane)) else None) for lane in LANES}
    if fmt == "json":
        click.echo(json.dumps({"heads": data, "stamp": make_stamp(project)}))
        return
    for lane in LANES:
        head = project.lane_head(lane)
        click.echo(f"{lane:<9} {head.id + '  ' + head.path.name if head else '(empty)'}")
