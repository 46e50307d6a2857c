"""`expandcontract serve`: the gate over HTTP for Argo Rollouts `web` metrics and Flagger webhooks.

Loopback by default: the gate reads the cluster with its own credentials, so exposing it is a choice
(`--host 0.0.0.0` inside the cluster, behind a Service). It needs a bearer token: EXPANDCONTRACT_SERVE_TOKEN,
else `token_file` or `token` in [tool.expandcontract.serve]; without one it does not start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from expandcontract.cli._common import app, command
from expandcontract.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from expandcontract.config import Config

TOKEN_ENV = "EXPANDCONTRACT_SERVE_TOKEN"


@command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free).")
@click.option("--threads", default=16, show_default=True, type=click.IntRange(1, 256), help="Worker threads.")
@click.option(
    "--snapshot",
    "snapshots",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Answer from `kubectl get ... -o yaml|json` output instead of the live cluster (repeatable).",
)
def serve(host: str, port: int, threads: int, snapshots: tuple[Path, ...]) -> None:
    """Serve the gate (GET /argo/web, POST /flagger/{confirm-rollout,confirm-promotion,gate}, GET /gate) and
    Prometheus metrics (GET /metrics)."""
    from expandcontract.gates.evaluate import classifier_for, options_from, reader_for, selection_from
    from expandcontract.gates.server import GateApp
    from expandcontract.gates.wsgi import make_server
    from expandcontract.metrics.http import registry_for, render
    from expandcontract.phases.static import read_project

    config = app().config()
    token = _token(config)
    selection = selection_from(config)
    project = read_project(config)
    hook, hook_note = None, "no database configured: rollout-start (confirm-rollout/promotion) answers unknown"
    url = _database_url(config)
    if url:
        from expandcontract.db.url import mask
        from expandcontract.gates.schema import schema_ready_hook

        hook, hook_note = schema_ready_hook(project, url), f"rollout-start reads the database at {mask(url)}"
    registry, live = registry_for(url)
    gate_app = GateApp(
        reader=reader_for(config, snapshots or None),
        selection=selection,
        classifier=lambda change: classifier_for(project, change),
        token=token,
        changes=tuple(project.changes),
        options=options_from(config),
        schema_ready=hook,
        max_body=config.serve.max_body_bytes,
        metrics=render(registry),
        on_decision=live.gate,
    )
    try:
        server = make_server(gate_app, host, port, threads=threads)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port") from None
    click.echo(f"serving the gate for {selection} on http://{host}:{server.effective_port} (Ctrl-C stops)", err=True)
    click.echo(hook_note, err=True)
    scraped = ", backfills and phase runs read from the database at each scrape" if url else "; no database"
    click.echo(f"GET /metrics (bearer token): gate answers{scraped}", err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def _token(config: Config) -> str:
    """EXPANDCONTRACT_SERVE_TOKEN, else [tool.expandcontract.serve] token_file, else token."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token and config.serve.token_file:
        path = (config.root / config.serve.token_file).expanduser()
        try:
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"[tool.expandcontract.serve] token_file {path}: cannot read it ({getattr(exc, 'strerror', exc)})"
            ) from None
    token = token or (config.serve.token or "").strip()
    if len(token) < 16:
        raise UsageError(
            f"serve needs a bearer token of at least 16 characters: set {TOKEN_ENV} (e.g. from a Secret), or "
            "token_file in [tool.expandcontract.serve]; generate one with `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`"
        )
    return token


def _database_url(config: Config) -> str | None:
    """--database-url, DATABASE_URL, the config, or an embedded server already running; never starts one."""
    from expandcontract.db.resolve import resolve_database

    return resolve_database(app().database_url, config, start_embedded=False).url or None
