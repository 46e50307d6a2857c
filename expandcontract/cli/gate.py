"""`expandcontract gate PHASE --change SLUG`: may this phase run now, given the rollout? Never the database.

Exit codes are the answer: 0 allow, 3 blocked (retry later), 4 unknown (fail closed), 5 deny (terminal),
2 bad usage. That is what CI steps, Helm hooks, Argo CD hook Jobs and Argo Rollouts `job` metrics read.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from expandcontract.cli._common import app, command, format_option
from expandcontract.errors import UsageError

PHASES = ("expand", "migrate", "contract", "undo-expand", "undo-contract")


def _kinds() -> list[str]:
    from expandcontract.gates.registry import STRATEGIES

    return list(STRATEGIES)


@command()
@click.argument("phase", type=click.Choice(PHASES))
@click.option("--change", "change", required=True, metavar="SLUG", help="The change whose phase would run.")
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="KIND/NAMESPACE/NAME",
    help="A workload to judge (repeatable; else the config). The phase is allowed only when every one allows.",
)
@click.option("--kind", type=click.Choice(_kinds()), default=None, help="One target's kind (else the config).")
@click.option("--name", default=None, help="One target's name (else the config).")
@click.option("--namespace", default=None, help="Target namespace (else the config, else default).")
@click.option(
    "--snapshot",
    "snapshots",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Decide from `kubectl get ... -o yaml|json` output instead of the live cluster (repeatable).",
)
@click.option("--wait", "wait", default=None, metavar="DURATION", help="Ask again until allow or deny (e.g. 15m).")
@click.option("--interval", default="250ms", metavar="DURATION", hidden=True, help="Poll interval for --wait.")
@format_option("text", "json")
def gate(
    phase: str,
    change: str,
    targets: tuple[str, ...],
    kind: str | None,
    name: str | None,
    namespace: str | None,
    snapshots: tuple[Path, ...],
    wait: str | None,
    interval: str,
    fmt: str,
) -> None:
    """Decide whether PHASE of a change may run now, from the rollout state of the app in Kubernetes.

    PHASE is migrate, contract or undo-expand (expand and undo-contract are additive and always allow;
    expand warns when NEW pods already run). Exit 0 allow, 3 blocked, 4 unknown, 5 deny, 2 bad usage.
    """
    from expandcontract.gates.evaluate import classifier_for, evaluate_all, options_from, reader_for, selection_from
    from expandcontract.gates.model import GateDecision
    from expandcontract.gates.wait import parse_duration, wait_for
    from expandcontract.names import SLUG
    from expandcontract.phases.static import read_project

    if not SLUG.match(change):
        raise UsageError(f"--change {change!r} is not a slug like users-email-verified ([a-z0-9][a-z0-9-]*)")
    timeout = parse_duration(wait) if wait is not None else None
    poll = parse_duration(interval)
    config = app().config()
    selection = selection_from(config, kind, name, namespace, targets)
    project = read_project(config)  # no Alembic import: a snapshot decision stays well under a second
    classify = classifier_for(project, change)
    reader = reader_for(config, snapshots or None)
    options = options_from(config)

    def ask() -> GateDecision:
        return evaluate_all(reader, phase, change, selection, classify, options)

    if timeout is None:
        decision = ask()
    else:

        def progress(d: GateDecision) -> None:
            if not d.final:
                click.echo(f"waiting: {d.summary()}", err=True)

        from expandcontract.gates.sources import LiveSource
        from expandcontract.gates.watch import Watcher

        changed = Watcher(reader).changed if isinstance(reader, LiveSource) else None
        decision = wait_for(ask, timeout, interval=poll, on_change=progress, changed=changed)
        if not decision.final:
            click.echo(f"gave up after {wait}: the answer is still {decision.decision}", err=True)
    if fmt == "json":
        click.echo(decision.to_json())
    else:
        click.echo(decision.summary())
        several = len(decision.parts) > 1
        for part in decision.parts if several else ():
            click.echo(f"  {part.target}: {part.decision}")
        for where, reason in decision.all_reasons():
            prefix = f"{where}: " if several and where is not None else ""
            click.echo(f"  {prefix}{reason.code}: {reason.message}")
    sys.exit(decision.exit_code)
