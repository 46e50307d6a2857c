"""`expandcontract serve`: the gate over HTTP for Argo Rollouts `web` metrics and Flagger webhooks.

Loopback by default: the gate reads the cluster with its own credentials, so exposing it is a choice
(`--host 0.0.0.0` inside the cluster, behind a Service).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from expandcontract.cli._common import app, command
from expandcontract.errors import UsageError

if TYPE_CHECKING:
    from expandcontract.config import Config


@command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free).")
@click.option(
    "--snapshot",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Answer from `kubectl get ... -o yaml` output instead of the live cluster.",
)
def serve(host: str, port: int, snapshot: Path | None) -> None:
    """Serve the gate: GET /argo/web, POST /flagger/{confirm-rollout,confirm-promotion,gate}, GET /gate."""
    from expandcontract.gates.evaluate import classifier_for, options_from, reader_for
    from expandcontract.gates.model import Target
    from expandcontract.gates.server import GateApp, make_server
    from expandcontract.phases.project import load_project

    config = app().config()
    project = load_project(config)
    rollout = config.rollout
    target = Target(rollout.kind, rollout.name, rollout.namespace) if rollout.kind and rollout.name else None
    hook, hook_note = None, "no database configured: rollout-start (confirm-rollout/promotion) answers unknown"
    url = _database_url(config)
    if url:
        from expandcontract.db.url import mask
        from expandcontract.gates.schema import schema_ready_hook

        hook, hook_note = schema_ready_hook(project, url), f"rollout-start reads the database at {mask(url)}"
    gate_app = GateApp(
        reader=reader_for(config, snapshot),
        classifier=lambda change: classifier_for(project, change),
        default_target=target,
        options=options_from(config),
        schema_ready=hook,
    )
    try:
        server = make_server(gate_app, host, port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port") from None
    real_host, real_port = server.server_address[:2]
    click.echo(f"serving the gate on http://{real_host!s}:{real_port} (Ctrl-C stops)", err=True)
    click.echo(hook_note, err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _database_url(config: Config) -> str | None:
    """--database-url, DATABASE_URL, the config, or an embedded server already running; never starts one."""
    from expandcontract.db.resolve import resolve_database

    return resolve_database(app().database_url, config, start_embedded=False).url or None
