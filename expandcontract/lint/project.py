"""Lint an Alembic project: every revision on its own, lane by lane in order (expand, migrate,
contract), through one offline Alembic environment (lint/revision.py); plus the graph rules of
phases/graph.py that have a lint rule (lint/graph.py); then each file's ignores. `--since` / staged
files pick which revisions are reported (lint/changed.py). Imports Alembic, so only the project path
loads it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from expandcontract.config import Config
from expandcontract.lint.api import LintOptions, LintResult
from expandcontract.lint.changed import picked_paths
from expandcontract.lint.finding import Finding
from expandcontract.lint.graph import graph_findings, line_of, read_text
from expandcontract.lint.ignores import Ignore, apply_ignores, find_ignores
from expandcontract.lint.meta import NOT_ANALYSABLE
from expandcontract.lint.registry import all_rules
from expandcontract.lint.revision import RevisionLinter, relative_to

if TYPE_CHECKING:
    from expandcontract.phases.project import Revision


def lint_project(
    config: Config, options: LintOptions, since: str | None = None, only: list[str] | None = None
) -> LintResult:
    """Lint every revision (or those changed since `since`, or the revision files in `only`); all
    revisions are still rendered in order so later ones know what earlier ones created."""
    from expandcontract.phases.project import load_project
    from expandcontract.sql.alembic_capture import OfflineRenderer

    project = load_project(config, validate=False)
    picked = picked_paths(config.root, since, only)
    rel = relative_to(config.root)
    linter = RevisionLinter(project, options, rel)
    for finding in graph_findings(project, options.selection, rel):
        linter.bucket(finding.path).append(finding)
    revisions = list(project.ordered())
    with OfflineRenderer(project.alembic_cfg, project.script) as renderer:
        for rev in revisions:
            linter.lint(rev, renderer)
    chosen = [rev for rev in revisions if picked is None or rev.path.resolve() in picked]
    findings = [f for rev in chosen for f in reported(linter.findings.get(rel(rev.path), []), rev, rel, options)]
    result = LintResult(len(chosen), sorted(findings, key=Finding.sort_key))
    result.not_analysable = sum(f.rule == NOT_ANALYSABLE for f in result.findings)
    result.fail_on_not_analysable = options.fail_on_not_analysable
    result.stats = linter.stats
    return result


def reported(found: list[Finding], rev: Revision, rel: Any, options: LintOptions) -> list[Finding]:
    """One revision file's findings that the selection enables and its ignores leave."""
    sel = options.selection
    return apply_ignores(
        [f for f in found if sel.enabled(f.rule)],
        revision_ignores(rev),
        rel(rev.path),
        sel.enabled("unused-ignore"),
        sel.severity(all_rules()["unused-ignore"]),
        sel.severity(all_rules()["ignore-without-reason"]),
    )


def revision_ignores(rev: Revision) -> list[Ignore]:
    """Ignore comments of the revision file (upgrade and downgrade) and its `ec_safety_assured`."""
    ignores = find_ignores(read_text(rev.path), python=True)
    line = line_of(rev.path, "ec_safety_assured")
    for rule_id, reason in rev.safety_assured.items():
        ignores.append(Ignore(line, None, (rule_id,), str(reason or "").strip(), source="safety_assured"))
    return ignores
