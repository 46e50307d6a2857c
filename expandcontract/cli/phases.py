"""`status`, `plan`, `run`, `downgrade`, `history`, `doctor`: the phases against the database."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from expandcontract.cli._common import app, command, format_option
from expandcontract.errors import ExpandContractError, UsageError
from expandcontract.phases import LANES


def _notify(msg: str) -> None:
    click.echo(msg, err=True)


def _load() -> tuple[Any, str]:
    from expandcontract.phases.project import load_project

    a = app()
    project = load_project(a.config())
    return project, a.database_url_resolved()


@command()
@format_option("text", "json")
def status(fmt: str) -> None:
    """Every change and where each of its phases stands."""
    from expandcontract.phases.status import project_status

    project, url = _load()
    st = project_status(project, url)
    if fmt == "json":
        click.echo(json.dumps(st.to_json()))
        return
    if not st.changes:
        click.echo("no changes yet: expandcontract new MESSAGE --change SLUG")
    width = max((len(c.change) for c in st.changes), default=6)
    for c in st.changes:
        cells = "  ".join(click.style(f"{phase} {c.phases[phase]:<8}", fg=_fg(c.phases[phase])) for phase in LANES)
        click.echo(f"{c.change:<{width}}  {cells}")
        for b in c.backfills:
            click.echo(f"{'':<{width}}  backfill {b.get('name')}: {b.get('status')}, {b.get('rows_done', 0)} rows")
    if st.unphased_pending:
        click.echo(f"unphased revisions pending: {', '.join(st.unphased_pending)}")
    if st.runner_active:
        click.echo("a runner is active now")


def _fg(state: str) -> str | None:
    return {"applied": "green", "pending": "yellow", "running": "cyan", "failed": "red"}.get(state)


def _plan_json(report_or_plan: Any) -> dict[str, Any]:
    from expandcontract.phases.run import RunReport

    if isinstance(report_or_plan, RunReport):
        return report_or_plan.to_json()
    return RunReport(report_or_plan, None, dry_run=True).to_json()


def _print_plan(plan: Any, sql: dict[str, str] | None = None) -> None:
    if not plan.steps:
        for note in plan.notes:
            click.echo(note)
        return
    click.echo(f"{plan.phase}{' of ' + plan.change if plan.change else ''}: {len(plan.steps)} revision(s)")
    for i, s in enumerate(plan.steps, 1):
        r = s.revision
        click.echo(
            f"  {i}. {r.id} [{r.lane}] {r.change or 'unphased'}: {r.message.splitlines()[0] if r.message else ''}"
            f"{'' if s.why == 'target' else '  (' + s.why + ')'}"
        )
        if sql and r.id in sql:
            for line in sql[r.id].strip().splitlines():
                click.echo(f"       {line}")
    for note in plan.notes:
        click.echo(f"  note: {note}")


def _offline_sql(project: Any, plan: Any) -> dict[str, str]:
    """The SQL of each planned revision, rendered offline (best effort: data-reading revisions can't be)."""
    import io

    out: dict[str, str] = {}
    try:
        from alembic.operations import Operations
        from alembic.runtime.migration import MigrationContext
    except ImportError:  # pragma: no cover
        return out
    for s in plan.steps:
        buf = io.StringIO()
        ctx = MigrationContext.configure(
            dialect_name="postgresql",
            opts={"as_sql": True, "output_buffer": buf, "literal_binds": True, "transactional_ddl": False},
        )
        try:
            with Operations.context(ctx):
                s.revision.module.upgrade()
        except Exception as exc:
            buf.write(f"-- cannot render offline: {type(exc).__name__}: {exc}\n")
        out[s.revision.id] = "\n".join(ln for ln in buf.getvalue().splitlines() if ln.strip()) or "-- (no SQL)"
    return out


@command()
@click.argument("phase", type=click.Choice(list(LANES)))
@click.option("--change", default=None, help="Only up to this change's revision.")
@format_option("text", "json")
def plan(phase: str, change: str | None, fmt: str) -> None:
    """What `run PHASE` would do: revisions in order, their SQL, and notes."""
    from expandcontract.phases.run import make_plan

    project, url = _load()
    p = make_plan(project, url, phase, change, _notify)
    sql = _offline_sql(project, p)
    if fmt == "json":
        data = _plan_json(p)
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
@click.option("--lock-wait", default=30.0, show_default=True, help="Seconds to wait for another runner.")
@format_option("text", "json")
def run(
    phase: str, change: str | None, dry_run: bool, skip_gate: bool, reason: str | None, lock_wait: float, fmt: str
) -> None:
    """Run PHASE: upgrade its lane safely (runner lock, lock_timeout with retries, audit log)."""
    from expandcontract.phases.run import run_phase

    if skip_gate and not (reason and reason.strip()):
        raise UsageError("--skip-gate needs --reason TEXT (it is recorded in the audit log)")
    if reason and not skip_gate:
        raise UsageError("--reason goes with --skip-gate")
    project, url = _load()
    report = run_phase(
        project,
        url,
        phase,
        change,
        notify=_notify,
        dry_run=dry_run,
        skip_gate_reason=reason if skip_gate else None,
        lock_wait_s=lock_wait,
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


@command()
@click.option("--change", required=True, help="The change to undo a phase of.")
@click.option("--phase", required=True, type=click.Choice(list(LANES)))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@format_option("text", "json")
def downgrade(change: str, phase: str, yes: bool, fmt: str) -> None:
    """Undo PHASE of CHANGE, previewing the cascade across lanes first."""
    from expandcontract.phases.run import run_downgrade

    project, url = _load()

    def confirm(plan: Any) -> bool:
        out = sys.stderr if fmt == "json" else sys.stdout
        print(f"downgrade {phase} of {change} ({plan.revision.id}) undoes {len(plan.removed)} revision(s):", file=out)
        for r in plan.removed:
            mark = "" if r.id == plan.revision.id else "  (cascade)"
            print(f"  - {r.id} [{r.lane}] {r.change or 'unphased'}{mark}", file=out)
        if yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError("downgrade needs confirmation: re-run with --yes (stdin is not a terminal)")
        return click.confirm("proceed?", default=False, err=True)

    plan = run_downgrade(project, url, change, phase, notify=_notify, confirm=confirm)
    if plan is None:
        click.echo("aborted: nothing was changed", err=True)
        sys.exit(1)
    if fmt == "json":
        click.echo(json.dumps({"change": change, "phase": phase, "removed": [r.id for r in plan.removed]}))
    else:
        click.echo(f"downgraded {len(plan.removed)} revision(s)")


@command()
@click.option("--limit", default=20, show_default=True)
@format_option("text", "json")
def history(limit: int, fmt: str) -> None:
    """The audit log: who ran which phase, when, with what outcome."""
    from expandcontract.db.connect import connect
    from expandcontract.phases.state import SCHEMA, ensure_schema_sql

    url = app().database_url_resolved()
    with connect(url, autocommit=True) as conn:
        conn.execute(ensure_schema_sql())
        cur = conn.execute(
            f"SELECT id, command, phase, change, started_at, finished_at, os_user, host, revisions, outcome, "
            f"error, skip_gate_reason, gate FROM {SCHEMA}.runs ORDER BY id DESC LIMIT %s",
            (limit,),
        )
        cols = [d.name for d in cur.description or ()]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
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

    project, url = _load()
    findings = diagnose(project, url, fix=fix)
    if fmt == "json":
        click.echo(json.dumps({"findings": [f.to_json() for f in findings]}))
    else:
        if not findings:
            click.echo("all consistent")
        for f in findings:
            click.echo(f"{'fixed' if f.fixed else 'problem'}: {f.message}\n    repair: {f.repair}")
    if any(not f.fixed for f in findings):
        raise _Problems(f"{sum(not f.fixed for f in findings)} problem(s); `expandcontract doctor --fix` repairs them")


class _Problems(ExpandContractError):
    exit_code = 1
