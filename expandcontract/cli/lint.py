"""`expandcontract lint [PATHS | -]` and `expandcontract rule RULE-ID`.

Parse options -> call expandcontract.lint.api -> render -> exit code. Explicit .sql paths and `-` need
no project or database; only the revision path imports Alembic (lazily, in lint/project.py).
"""

from __future__ import annotations

import os
import sys

import click

from expandcontract.cli._common import app, command
from expandcontract.cli._stdout import stdout_to_stderr
from expandcontract.errors import UsageError


def _ids(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    return tuple(v.strip() for v in value.split(",") if v.strip())


@command()
@click.argument("paths", nargs=-1)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github"]),
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
    from expandcontract.lint.api import LintOptions, LintResult, lint_paths, load_schema
    from expandcontract.lint.render import render

    missing = [p for p in paths if p != "-" and not os.path.exists(p)]
    if missing:
        raise UsageError(f"{missing[0]}: no such file or directory")
    state = app()
    config = state.config()
    lc = config.lint
    schema = load_schema(schema_file or (str(config.root / lc.schema) if lc.schema else None))
    if state.database_url:
        from expandcontract.sql.introspect import schema_from_database

        schema = schema_from_database(state.database_url)
    options = LintOptions(
        pg_version=pg_version if pg_version is not None else lc.pg_version,
        transaction=transaction or lc.transaction,
        phase=phase,
        schema=schema,
        select=_ids(select, tuple(lc.select)),
        ignore=_ids(ignore_ids, tuple(lc.ignore)),
        severity=dict(lc.severity),
        downgrade=lc.downgrade,
        fail_on_not_analysable=lc.fail_on_not_analysable if fail_on_not_analysable is None else fail_on_not_analysable,
    )
    revisions = [p for p in paths if p.endswith(".py")]  # pre-commit passes staged revision files
    sql = [p for p in paths if not p.endswith(".py")]
    result = LintResult(0, [])
    with stdout_to_stderr(fmt != "text"):  # revisions may print or log: one document on stdout
        if sql:
            stdin = sys.stdin.read() if "-" in sql else None
            result = lint_paths(sql, options, stdin=stdin)
        if revisions or not paths:
            from expandcontract.lint.project import lint_project

            result = result + lint_project(config, options, since=since, only=revisions or None)
    click.echo(render(fmt, result.findings, result.files, result.not_analysable))
    sys.exit(result.exit_code)


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
