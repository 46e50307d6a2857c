"""`expandcontract backfill status|pause|resume|cancel [NAME]` and `backfill work NAME`.

Parse -> call expandcontract.backfill -> render -> exit code. Status: a rich table on a terminal, plain
lines otherwise, one JSON document with --format json (notices on stderr).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from expandcontract.cli._common import FiniteFloat, app, command, format_option, global_options


@click.group()
@global_options
def backfill() -> None:
    """Watch and control backfills; `work NAME` joins one as an extra worker."""


@command()
@click.argument("name", required=False)
@format_option("text", "json")
def status(name: str | None, fmt: str) -> None:
    """Progress, rate, ETA, throttle reason and liveness of every backfill (or NAME)."""
    from expandcontract.backfill import control

    rows = control.status(app().database_url_resolved(), name)
    if fmt == "json":
        click.echo(json.dumps({"backfills": rows}, indent=2))
    elif not rows:
        click.echo("no backfills registered in this database")
    elif sys.stdout.isatty():
        _table(rows)
    else:
        for r in rows:
            click.echo(_line(r))


def _line(r: dict[str, Any]) -> str:
    pct = f" ({r['percent']:.0f}%)" if r["percent"] is not None else ""
    est = f"/~{r['rows_estimate']:,}" if r["rows_estimate"] else ""
    parts = [f"{r['name']}: {r['state']}", f"{r['table']}", f"{r['rows_done']:,}{est} rows{pct}"]
    if r["live_processes"]:
        parts.append(f"{r['rate']:,.0f} rows/s, {r['live_processes']} process(es)")
    if r["eta_s"] is not None:
        parts.append(f"ETA {r['eta_s']:.0f}s")
    if r["throttled_reason"]:
        parts.append(f"waiting: {r['throttled_reason']}")
    if r["error"]:
        parts.append(f"error: {r['error']}")
    if r.get("workers"):
        parts.append("workers: " + ", ".join(_worker(w) for w in r["workers"]))
    return "; ".join(parts)


def _worker(w: dict[str, Any]) -> str:
    state = "working" if w["working"] else "idle"
    return f"{w['worker']} {state} {w['rows_done']:,} rows in {w['ranges']} range(s)"


def _table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table()
    for header in ("name", "table", "state", "rows", "%", "rate/s", "ETA", "procs", "waiting / error"):
        t.add_column(header, overflow="fold")
    for r in rows:
        t.add_row(
            r["name"],
            r["table"],
            r["state"],
            f"{r['rows_done']:,}",
            f"{r['percent']:.0f}" if r["percent"] is not None else "",
            f"{r['rate']:,.0f}" if r["live_processes"] else "",
            f"{r['eta_s']:.0f}s" if r["eta_s"] is not None else "",
            str(r["live_processes"]),
            r["throttled_reason"] or r["error"] or "",
        )
    Console().print(t)
    for r in rows:
        for w in r.get("workers") or []:
            click.echo(f"  {r['name']}: {_worker(w)}")


def _request(action: str, name: str, fmt: str) -> None:
    from expandcontract.backfill import control

    row = control.request(app().database_url_resolved(), name, action)
    if fmt == "json":
        click.echo(json.dumps({"action": action, "backfill": row}, indent=2))
        return
    follow = {
        "pause": "running processes stop after their current batch and wait",
        "resume": "running processes continue; if none runs, re-run `expandcontract run migrate`",
        "cancel": "running processes stop after their current batch; `run migrate` exits 1",
    }[action]
    click.echo(f"{action} requested for backfill {name} ({row['state']}, {row['rows_done']:,} rows done): {follow}")


@command()
@click.argument("name")
@format_option("text", "json")
def pause(name: str, fmt: str) -> None:
    """Pause NAME after the current batch; processes keep waiting until `resume`."""
    _request("pause", name, fmt)


@command()
@click.argument("name")
@format_option("text", "json")
def resume(name: str, fmt: str) -> None:
    """Clear a pause or a cancel of NAME."""
    _request("resume", name, fmt)


@command()
@click.argument("name")
@format_option("text", "json")
def cancel(name: str, fmt: str) -> None:
    """Cancel NAME after the current batch (the checkpoint is kept; `resume` undoes it)."""
    _request("cancel", name, fmt)


@command()
@click.argument("name")
@click.option("--worker-id", default=None, help="Shown in status (default HOST:PID); e.g. the Job index.")
@click.option(
    "--wait",
    "wait_s",
    type=FiniteFloat(0, 86_400),
    default=0.0,
    show_default=True,
    help="Seconds to wait for NAME to be registered.",
)
@format_option("text", "json")
def work(name: str, worker_id: str | None, wait_s: float, fmt: str) -> None:
    """Join backfill NAME as a worker: claim key ranges until none is left, then exit 0.

    The SQL comes from this checkout's revision files (the op.backfill() call named NAME), never from the
    database."""
    from expandcontract.backfill import api
    from expandcontract.backfill.declared import specs
    from expandcontract.errors import UsageError
    from expandcontract.phases.project import load_project

    a = app()
    url = a.database_url_resolved()  # a malformed URL is told first, whatever the revisions say
    declared = specs(r.module for r in load_project(a.config()).ordered())
    if name not in declared:
        known = ", ".join(sorted(declared)) or "none"
        raise UsageError(
            f"no op.backfill() named {name!r} in this checkout's revisions (declared here: {known}); run "
            "`backfill work` from the release whose migrate revision declares it"
        )
    result = api.work(url, declared[name], a.config().backfill, worker=worker_id, wait_s=wait_s)
    summary = {"name": result.name, "rows_done": result.rows_done, "batches": result.batches, "state": result.state}
    if fmt == "json":
        click.echo(json.dumps(summary))
    else:
        click.echo(
            f"backfill {name}: this worker updated {result.rows_done:,} rows "
            f"in {result.batches} batches ({result.state})",
            err=True,
        )


for _cmd in (status, pause, resume, cancel, work):
    backfill.add_command(_cmd)
