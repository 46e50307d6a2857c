"""Lint an Alembic project: every revision on its own, lane by lane in order (expand, migrate,
contract), through one offline Alembic environment (lint/revision.py); plus the graph rules of
phases/graph.py that have a lint rule (one head per lane, `ec_phase` matching its lane, contracts
depending on their change); then each file's ignores. Imports Alembic, so only the project path loads
it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expandcontract.config import Config
from expandcontract.errors import UsageError
from expandcontract.lint.api import LintOptions, LintResult
from expandcontract.lint.finding import Finding
from expandcontract.lint.ignores import Ignore, apply_ignores, find_ignores
from expandcontract.lint.meta import NOT_ANALYSABLE
from expandcontract.lint.registry import Selection, all_rules
from expandcontract.lint.revision import RevisionLinter, relative_to

if TYPE_CHECKING:
    from expandcontract.phases.project import Project, Revision


def lint_project(
    config: Config, options: LintOptions, since: str | None = None, only: list[str] | None = None
) -> LintResult:
    """Lint every revision (or those changed since `since`, or the revision files in `only`); all
    revisions are still rendered in order so later ones know what earlier ones created."""
    from expandcontract.phases.project import load_project
    from expandcontract.sql.alembic_capture import OfflineRenderer

    project = load_project(config, validate=False)
    picked = _picked(config.root, since, only)
    rel = relative_to(config.root)
    linter = RevisionLinter(project, options, rel)
    for finding in graph_findings(project, options.selection, rel):
        linter.bucket(finding.path).append(finding)
    revisions = list(project.ordered())
    with OfflineRenderer(project.alembic_cfg, project.script) as renderer:
        for rev in revisions:
            linter.lint(rev, renderer)
    chosen = [rev for rev in revisions if picked is None or rev.path.resolve() in picked]
    findings: list[Finding] = []
    for rev in chosen:
        path = rel(rev.path)
        found = [f for f in linter.findings.get(path, []) if options.selection.enabled(f.rule)]
        findings += apply_ignores(
            found,
            revision_ignores(rev),
            path,
            options.selection.enabled("unused-ignore"),
            options.selection.severity(all_rules()["unused-ignore"]),
            options.selection.severity(all_rules()["ignore-without-reason"]),
        )
    result = LintResult(len(chosen), sorted(findings, key=Finding.sort_key))
    result.not_analysable = sum(f.rule == NOT_ANALYSABLE for f in result.findings)
    result.fail_on_not_analysable = options.fail_on_not_analysable
    result.stats = linter.stats
    return result


def graph_findings(project: Project, sel: Selection, rel: Any) -> list[Finding]:
    """The problems load_project refuses (phases/graph.py) that have a lint rule, as findings."""
    from expandcontract.phases.graph import graph_problems

    rules = all_rules()
    out: list[Finding] = []
    for problem in graph_problems(project):
        if problem.rule not in rules:
            continue
        rev = project.revisions[problem.revision]
        line = _line_of(rev.path, problem.anchor) if problem.anchor else 1
        fix = problem.fix[0].upper() + problem.fix[1:] + "."
        rule = rules[problem.rule]
        out.append(
            Finding(
                rel(rev.path),
                line,
                1,
                problem.rule,
                sel.severity(rule),
                problem.message,
                rule.why,
                [fix],
                phase=rev.phase,
                revision=rev.id,
            )
        )
    return out


def revision_ignores(rev: Revision) -> list[Ignore]:
    """Ignore comments of the revision file (upgrade and downgrade) and its `ec_safety_assured`."""
    ignores = find_ignores(_read(rev.path), python=True)
    line = _line_of(rev.path, "ec_safety_assured")
    for rule_id, reason in rev.safety_assured.items():
        ignores.append(Ignore(line, None, (rule_id,), str(reason or "").strip(), source="safety_assured"))
    return ignores


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _line_of(path: Path, name: str) -> int:
    text = _read(path)
    m = re.search(rf"^{re.escape(name)}\b", text, re.M)
    return text[: m.start()].count("\n") + 1 if m else 1


def _picked(root: Path, since: str | None, only: list[str] | None) -> set[Path] | None:
    changed = _changed_since(root, since) if since else None
    if only is not None:
        chosen = {Path(p).resolve() for p in only}
        changed = chosen if changed is None else changed & chosen
    return changed


def _changed_since(root: Path, ref: str) -> set[Path]:
    """Files changed since `ref` (committed, staged, unstaged and untracked)."""
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        diff = subprocess.run(
            ["git", "diff", "--name-only", ref, "--"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.split("\n")
        new = subprocess.run(
            ["git", "ls-files", "--others", "--exclude-standard"], cwd=top, capture_output=True, text=True, check=True
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise UsageError(f"--since {ref}: git could not list changed files ({detail.strip()})") from None
    return {(Path(top) / p).resolve() for p in diff + new if p}
