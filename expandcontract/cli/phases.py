"""`status`, `plan`, `run`, `downgrade`, `history`, `doctor`: parse -> call expandcontract.phases -> render."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from expandcontract.cli._common import app, command, format_option
from expandcontract.cli._stdout import stdout_to_stderr
from expandcontract.errors import ExpandContractError, UsageError
from expandcontract.names import LANES
from expandcontract.phases.history import MAX_LIMIT


def _notify(msg: str) -> None:
    click.echo(msg, err=True)


def _load() -> tuple[Any, str]:
    from expandcontract.phases.project import load_project

    a = app()
    project = load_project(a.config())
    return project, a.database_url_resolved()


def _decider(project: Any, snapshots: tuple[Path, ...] = ()) -> Any:
    """The rollout decision (live, or from `--snapshot` files), only when a target is configured: the
    kubernetes client is slow to import."""
    if not project.config.has_rollout_target:
        return None
    from expandcontract.gates.evaluate import decide

    return lambda phase, change: decide(project.config, project, phase, change, snapshot=snapshots or None)


def _gate_json(decider: Any) -> Any:
    """For `status`: a decision as JSON, an error as an unknown decision (status itself still answers)."""

    def ask(phase: str, change: str) -> dict[str, Any]:
        try:
            return dict(decider(phase, change).as_dict())
        except ExpandContractError as exc:
            return {"decision": "unknown", "reasons": [{"code": "GATE_ERROR", "message": str(exc)}]}

    return ask


SNAPSHOT = click.option(
    "--snapshot",
    "snapshots",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Judge the rollout from `kubectl get ... -o json|yaml` output instead of the live cluster (repeatable).",
)


@command()
@SNAPSHOT
@format_option("text", "json")
def status(snapshots: tuple[Path, ...], fmt: str) -> None:
    """Every change: where each of its phases stands, and the next phase's gate when a target is configured."""
    from expandcontract.backfill.control import status as backfill_status
    from expandcontract.phases.status import project_status

    with stdout_to_stderr(fmt == "json"):  # revisions may print or log while they load
        project, url = _load()
        decider = _decider(project, snapshots)
        st = project_status(
            project, url, backfills=backfill_status, gate=_gate_json(decider) if decider is not None else None
        )
    if fmt == "json":
        click.echo(json.dumps(st.to_json(), default=str))
        return
    from expandcontract.backfill.progress import describe_status

    if not st.changes:
        click.echo("no changes yet: expandcontract new MESSAGE --change SLUG")
    width = max((len(c.change) for c in st.changes), default=6)
    for c in st.changes:
        cells = "  ".join(click.style(f"{p} {c.phases[p]:<11}", fg=_fg(c.phases[p])) for p in LANES)
        click.echo(f"{c.change:<{width}}  {cells}".rstrip())
        for b in c.backfills:
            click.echo(f"{'':<{width}}  {describe_status(b)}")
        for phase, refusal in c.refusals.items():
            click.echo(f"{'':<{width}}  {phase}: run first `{refusal['run_first']}` (it needs other lanes)")
        if c.gate is not None:
            click.echo(f"{'':<{width}}  {c.gate['phase']} gate: {_gate_line(c.gate)}")
    if st.unphased_pending:
        click.echo(f"unphased revisions pending: {', '.join(st.unphased_pending)}")
    for note in st.notes:
        click.echo(f"note: {note}")
    if st.runner_active:
        click.echo("a runner is active on this database now")


def _gate_line(gate: dict[str, Any]) -> str:
    reasons = "; ".join(f"{r.get('code')}: {r.get('message')}" for r in gate.get("reasons") or [])
    return f"{gate.get('decision')}" + (f" ({reasons})" if reasons else "")


def _fg(state: str) -> str | None:
    return {"applied": "green", "pending": "yellow", "running": "cyan", "failed": "red", "interrupted": "red"}.get(
        state
    )


def _print_plan(plan: Any, sql: dict[str, str] | None = None) -> None:
    if plan.refusal is not None:
        click.echo(f"{plan.phase}{' of ' + plan.change if plan.change else ''}: `run` would refuse")
        click.echo(f"  {plan.refusal.message}")
        return
    if not plan.steps:
        for note in plan.notes:
            click.echo(note)
        return
    click.echo(f"{plan.phase}{' of ' + plan.change if plan.change else ''}: {len(plan.steps)} revision(s)")
    for i, s in enumerate(plan.steps, 1):
        r = s.revision
        click.echo(
            f"  {i}. {r.id} [{r.lane or 'expand'}] {r.change or 'unphased'}: "
            f"{r.message.splitlines()[0] if r.message else ''}{'' if s.why == 'target' else '  (' + s.why + ')'}"
        )
        if sql and r.id in sql:
            for line in sql[r.id].strip().splitlines():
                click.echo(f"       {line}")
    for note in plan.notes:
        click.echo(f"  note: {note}")


@command()
@click.argument("phase", type=click.Choice(list(LANES)))
@click.option("--change", default=None, help="Only up to this change's revision.")
@format_option("text", "json")
def plan(phase: str, change: str | None, fmt: str) -> None:
    """What `run PHASE` would do: revisions in order, their SQL, and notes (or why it would refuse)."""
    import expandcontract.backfill.op  # noqa: F401  (op.backfill renders as a comment offline)
    from expandcontract.phases.preview import offline_sql
    from expandcontract.phases.run import RunReport, make_plan

    with stdout_to_stderr(fmt == "json"):  # revisions may print or log while they load and render
        project, url = _load()
        p = make_plan(project, url, phase, change, _notify)
        sql = offline_sql(p)
    if fmt == "json":
        data = RunReport(p, None, dry_run=True).to_json()
        for item in data["planned"]:
            item["sql"] = sql.get(item["revision"])
        click.echo(json.dumps(data))
        return
    _print_plan(p, sql)


@command()
@click.argument("phase", type=click.Choice(list(LANES)))
@click.option("--change", default=None, help="Run the lane up to and including this change's revision.")
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.option("--skip-gate", is_flag=True, help="Do not consult the rollout gate (needs --reason).")
@click.option("--reason", default=None, help="Why the gate is skipped (recorded in the audit log).")
@click.option("--wait", "gate_wait", default=None, help="Ask the rollout gate again until it allows (e.g. 15m).")
@SNAPSHOT
@click.option("--lock-wait", default=30.0, show_default=True, help="Seconds to wait for another runner.")
@click.option(
    "--metrics-port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Serve Prometheus metrics of this run on http://HOST:PORT/metrics while it runs (0: any free port).",
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address for --metrics-port.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Backfill batch workers in this process (default: [tool.expandcontract.backfill] workers, 1).",
)
@format_option("text", "json")
def run(
    phase: str,
    change: str | None,
    dry_run: bool,
    skip_gate: bool,
    reason: str | None,
    gate_wait: str | None,
    snapshots: tuple[Path, ...],
    lock_wait: float,
    metrics_port: int | None,
    metrics_host: str,
    workers: int | None,
    fmt: str,
) -> None:
    """Run PHASE: upgrade its lane safely (runner lock, lock_timeout with retries, audit log)."""
    from expandcontract.phases.run import run_phase

    if workers is not None:
        from dataclasses import replace

        a = app()
        a._config = replace(a.config(), backfill=replace(a.config().backfill, workers=workers))

    if skip_gate and not (reason and reason.strip()):
        raise UsageError("--skip-gate needs --reason TEXT (it is recorded in the audit log)")
    if reason and not skip_gate:
        raise UsageError("--reason goes with --skip-gate")
    wait_s = 0.0
    if gate_wait is not None:
        from expandcontract.gates.wait import parse_duration

        wait_s = parse_duration(gate_wait)
    with stdout_to_stderr(fmt == "json"):  # revisions may print or log while they load and run
        project, url = _load()
    with stdout_to_stderr(fmt == "json"), _metrics(url, metrics_host, metrics_port) as recorded:
        report = run_phase(
            project,
            url,
            phase,
            change,
            notify=_notify,
            dry_run=dry_run,
            skip_gate_reason=reason if skip_gate else None,
            decider=None if skip_gate else recorded(_decider(project, snapshots)),
            lock_wait_s=lock_wait,
            gate_wait_s=wait_s,
        )
    if fmt == "json":
        click.echo(json.dumps(report.to_json()))
        return
    if dry_run:
        _print_plan(report.plan)
        click.echo("dry run: nothing was changed")
        return
    if not report.applied:
        _print_plan(report.plan)
        return
    for o in report.applied:
        retry = f" after {o.attempts} attempts" if o.attempts > 1 else ""
        click.echo(f"applied {o.revision} in {o.seconds:.2f}s{retry}")
    click.echo(f"{phase} done ({len(report.applied)} revision(s), run {report.run_id})")


def _metrics(url: str, host: str, port: int | None) -> Any:
    """`--metrics-port`: serve this run's metrics (prometheus_client is imported only then)."""
    if port is None:
        import contextlib

        return contextlib.nullcontext(lambda decider: decider)
    from expandcontract.metrics.process import exposed

    return exposed(url, host, port, _notify)


@command()
@click.option("--change", required=True, help="The change to undo a phase of.")
@click.option("--phase", required=True, type=click.Choice(list(LANES)))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@format_option("text", "json")
def downgrade(change: str, phase: str, yes: bool, fmt: str) -> None:
    """Undo PHASE of CHANGE, previewing every revision it undoes (across lanes) first."""
    from expandcontract.phases.run import run_downgrade

    with stdout_to_stderr(fmt == "json"):  # revisions may print or log while they load
        project, url = _load()
    out = sys.stderr if fmt == "json" else sys.stdout

    def preview(plan: Any) -> None:
        print(f"downgrade {phase} of {change} undoes {len(plan.undo)} revision(s), in this order:", file=out)
        for u in plan.undo:
            r = u.revision
            marks = [m for m in ("cascade" if u.cascade else "", _reversibility(r)) if m]
            print(f"  - {r.id} [{r.lane or 'expand'}] {r.change or 'unphased'}  {'; '.join(marks)}".rstrip(), file=out)

    def confirm(plan: Any) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError("downgrade needs confirmation: re-run with --yes (stdin is not a terminal)")
        return click.confirm("proceed?", default=False, err=True)

    with stdout_to_stderr(fmt == "json"):  # downgrade() may print or log
        plan = run_downgrade(project, url, change, phase, notify=_notify, confirm=confirm, preview=preview)
    if plan is None:
        raise _Aborted("aborted: nothing was changed")
    if fmt == "json":
        click.echo(json.dumps({"change": change, "phase": phase, "removed": [r.id for r in plan.removed]}))
    else:
        click.echo(f"downgraded {len(plan.removed)} revision(s)")


def _reversibility(rev: Any) -> str:
    if rev.reversible is False:
        return f"IRREVERSIBLE ({rev.reason or 'ec_reversible = False'})"
    if rev.reversible == "lossy":
        return f"lossy: data is lost ({rev.reason or 'ec_reversible = lossy'})"
    return ""


@command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, MAX_LIMIT), help="Newest runs shown.")
@format_option("text", "json")
def history(limit: int, fmt: str) -> None:
    """The audit log: who ran which phase, when, with what outcome."""
    from expandcontract.phases.history import read_history

    rows = read_history(app().database_url_resolved(), limit)
    if fmt == "json":
        click.echo(json.dumps({"runs": rows}, default=str))
        return
    if not rows:
        click.echo("no runs yet")
    for r in rows:
        what = f"{r['command']} {r['phase'] or ''}{' --change ' + r['change'] if r['change'] else ''}".strip()
        click.echo(
            f"#{r['id']} {r['started_at']:%Y-%m-%d %H:%M:%S} {r['os_user']}@{r['host']} {what}: "
            f"{r['outcome']} ({len(r['revisions'] or [])} revision(s))"
        )
        if r["error"]:
            click.echo(f"    {r['error']}")
        if r["skip_gate_reason"]:
            click.echo(f"    gate skipped: {r['skip_gate_reason']}")


@command()
@click.option("--fix", is_flag=True, help="Apply the repairs.")
@format_option("text", "json")
def doctor(fix: bool, fmt: str) -> None:
    """Reconcile our state with alembic_version and the catalog (INVALID indexes, interrupted runs)."""
    from expandcontract.phases.doctor import diagnose

    with stdout_to_stderr(fmt == "json"):  # revisions may print or log while they load
        project, url = _load()
        findings = diagnose(project, url, fix=fix)
    problems = [f for f in findings if f.severity == "problem" and not f.fixed]
    if fmt == "json":
        click.echo(json.dumps({"findings": [f.to_json() for f in findings], "problems": len(problems)}))
        sys.exit(1 if problems else 0)
    if not problems:
        click.echo("all consistent")
    for f in findings:
        label = "fixed" if f.fixed else ("note" if f.severity == "note" else "problem")
        click.echo(f"{label}: {f.message}\n    repair: {f.repair}")
    if problems:
        click.echo(f"error: {len(problems)} problem(s); `expandcontract doctor --fix` repairs them", err=True)
        sys.exit(1)


class _Aborted(ExpandContractError):
    exit_code = 1
