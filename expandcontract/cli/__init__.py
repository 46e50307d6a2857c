"""The `expandcontract` command line: parse -> call the API -> render -> exit code. No logic here.

Commands live one module (or group) per file and are imported only when invoked, so
`expandcontract lint x.sql` never imports SQLAlchemy, Alembic, rich or the kubernetes client. The
commonest editor / pre-commit call, `lint` of .sql files or stdin, does not import click either: main()
recognises it (cli/lint_fast.py) and leaves everything else to the click group (cli/_group.py).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the .sql lint path never needs it)
if TYPE_CHECKING:
    from typing import Any

# name -> ("module", "attribute", "one-line help")
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("expandcontract.cli.project", "init", "Create a project, or add lanes to an Alembic project."),
    "new": ("expandcontract.cli.project", "new", "Scaffold the revisions of a change."),
    "lint": ("expandcontract.cli.lint", "lint", "Lint revisions and .sql files for zero-downtime hazards."),
    "rule": ("expandcontract.cli.lint", "rule", "Show the documentation of a lint rule."),
    "status": ("expandcontract.cli.phases", "status", "Every change: phase states and progress."),
    "plan": ("expandcontract.cli.phases", "plan", "What `run PHASE` would do."),
    "run": ("expandcontract.cli.phases", "run", "Run a phase (one lane) safely."),
    "downgrade": ("expandcontract.cli.phases", "downgrade", "Undo a phase of a change."),
    "history": ("expandcontract.cli.phases", "history", "The audit log of phase runs."),
    "doctor": ("expandcontract.cli.phases", "doctor", "Reconcile state with the database."),
    "heads": ("expandcontract.cli.project", "heads", "Lane heads; --stamp for the pod annotation."),
    "backfill": ("expandcontract.cli.backfill", "backfill", "Watch and control backfills."),
    "verify": ("expandcontract.cli.verify", "verify", "Check every revision is reversible."),
    "rehearse": ("expandcontract.cli.rehearse", "rehearse", "Replay a deploy under both releases' traffic."),
    "gate": ("expandcontract.cli.gate", "gate", "Decide whether a phase may run now (rollout)."),
    "serve": ("expandcontract.cli.serve", "serve", "HTTP gate for Argo Rollouts and Flagger."),
    "db": ("expandcontract.cli.db", "db", "Start, stop or inspect the embedded PostgreSQL."),
    "demo": ("expandcontract.cli.demo", "demo", "Walk an example change through its whole life."),
}


def main(argv: list[str] | None = None) -> None:
    args = list(argv) if argv is not None else sys.argv[1:]
    if args[:1] == ["lint"]:
        from expandcontract.cli.lint_fast import fast_lint

        fast_lint(args[1:], hard_exit=argv is None)  # exits when it can handle the command line
    from expandcontract.cli._group import cli

    cli.main(args=args, prog_name="expandcontract")


def __getattr__(name: str) -> Any:
    if name in ("cli", "LazyGroup"):
        from expandcontract.cli import _group

        return getattr(_group, name)
    raise AttributeError(f"module 'expandcontract.cli' has no attribute {name!r}")
