"""The `expandcontract` command line: parse -> call the API -> render -> exit code. No logic here.

Commands live one module (or group) per file and are imported only when invoked, so
`expandcontract lint x.sql` never imports SQLAlchemy, Alembic, rich or the kubernetes client.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from expandcontract.cli._common import AppContext, emit_error, global_options, wants_json

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
    "gate": ("expandcontract.cli.gate", "gate", "Decide whether a phase may run now (rollout)."),
    "serve": ("expandcontract.cli.serve", "serve", "HTTP gate for Argo Rollouts and Flagger."),
    "db": ("expandcontract.cli.db", "db", "Start, stop or inspect the embedded PostgreSQL."),
    "demo": ("expandcontract.cli.demo", "demo", "Walk an example change through its whole life."),
}


class LazyGroup(click.Group):
    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Click's usage errors (a bad option value, a missing argument) get the same contract as ours:
        one line on stderr, exit 2, and under `--format json` one JSON error document on stdout."""
        argv = list(args) if args is not None else sys.argv[1:]
        if not standalone_mode:
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        try:
            return super().main(argv, prog_name, complete_var, False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            if wants_json(argv):
                emit_error(exc.format_message(), exc.exit_code, as_json=True)
            else:
                exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            emit_error("aborted", 1, as_json=wants_json(argv))
            sys.exit(1)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(package_name="expandcontract")
@click.pass_context
def cli(ctx: click.Context, /, **_: Any) -> None:
    """Zero-downtime PostgreSQL schema changes for SQLAlchemy + Alembic: expand, migrate, contract."""
    ctx.ensure_object(AppContext)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="expandcontract")
