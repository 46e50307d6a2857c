"""The click command group: every command of `expandcontract.cli.COMMANDS`, each imported only when
invoked. Importing this module imports click (the lean `.sql` lint path in cli/__init__ avoids it)."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from expandcontract.cli import COMMANDS
from expandcontract.cli._common import AppContext, emit_error, global_options, wants_json


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
