"""`expandcontract lint [PATHS | -]` and `expandcontract rule RULE-ID`.

Parse options -> cli/lint_fast.lint_result (lint/api) -> rendered -> exit code. Explicit .sql paths and `-` need
no project or database (and usually do not reach click: cli/__init__.main takes the lean path); only the
revision path imports Alembic (lazily, in lint/project.py).
"""

from __future__ import annotations

import sys

import click

from expandcontract.cli._common import app, command
from expandcontract.cli.lint_fast import FORMATS, lint_result, rendered


@command()
@click.argument("paths", nargs=-1)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default="text",
    show_default=True,
    help="Output format; json and sarif print exactly one document on stdout.",
)
@click.option("--pg-version", type=int, default=None, help="Target PostgreSQL major version (10+).")
@click.option(
    "--transaction",
    type=click.Choice(["per-file", "none"]),
    default=None,
    help=".sql files: does the runner wrap each file in a transaction (default per-file)?",
)
@click.option("--schema", "schema_file", default=None, help="pg_dump --schema-only DDL of the current schema.")
@click.option("--since", default=None, help="Only revisions changed since this git ref.")
@click.option("--select", default=None, help="Only these rules (comma separated ids).")
@click.option("--ignore", "ignore_ids", default=None, help="Skip these rules (comma separated ids).")
@click.option(
    "--phase",
    type=click.Choice(["expand", "migrate", "contract"]),
    default=None,
    help=".sql files: the phase they belong to (enables the phase-placement rules).",
)
@click.option(
    "--fail-on-not-analysable",
    is_flag=True,
    default=None,
    help="Code the linter cannot see offline (not-analysable) fails the lint (exit 1).",
)
@click.option("--list", "list_rules", is_flag=True, hidden=True)
def lint(
    paths: tuple[str, ...],
    fmt: str,
    pg_version: int | None,
    transaction: str | None,
    schema_file: str | None,
    since: str | None,
    select: str | None,
    ignore_ids: str | None,
    phase: str | None,
    fail_on_not_analysable: bool | None,
    list_rules: bool,
) -> None:
    """Lint Alembic revisions (no PATHS: the whole project; revision .py paths: just those) or raw .sql
    files (`-` reads stdin)."""
    state = app()
    result = lint_result(
        paths=paths,
        fmt=fmt,
        pg_version=pg_version,
        transaction=transaction,
        schema_file=schema_file,
        since=since,
        select=select,
        ignore_ids=ignore_ids,
        phase=phase,
        fail_on_not_analysable=fail_on_not_analysable,
        config_path=None if state.config_path is None else str(state.config_path),
        database_url=state.database_url,
    )
    out, code = rendered(fmt, result)
    click.echo(out)
    sys.exit(code)


@command()
@click.argument("rule_id", required=False)
@click.option("--list", "list_rules", is_flag=True, help="List every rule id with its summary.")
def rule(rule_id: str | None, list_rules: bool) -> None:
    """Show a lint rule's documentation (What it does / Why is this bad? / Example / Use instead)."""
    from expandcontract.lint.registry import all_rules, get_rule

    if list_rules or not rule_id:
        for r in all_rules().values():
            click.echo(f"{r.id:40} {r.kind:10} {r.severity:8} {r.summary}")
        return
    r = get_rule(rule_id)
    click.echo(f"{r.id} ({r.kind}, {r.severity} by default)\n")
    click.echo(r.docs())
