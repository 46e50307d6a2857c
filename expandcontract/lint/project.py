"""Lint an Alembic project: every revision on its own, lane by lane in order (expand, migrate,
contract), each knowing what earlier revisions created, its phase, and that Alembic runs it in its own
transaction (`autocommit_block` commits it). Plus the graph rules of phases/graph.py that have a lint
rule: one head per lane, `ec_phase` matching its lane, contracts depending on their change. Imports
Alembic, so only the project path loads it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from expandcontract.config import Config
from expandcontract.errors import UsageError
from expandcontract.lint.api import LintOptions, LintResult
from expandcontract.lint.context import LintContext, MigrationState
from expandcontract.lint.engine import Unit, run
from expandcontract.lint.finding import Finding
from expandcontract.lint.ignores import Ignore, apply_ignores, find_ignores
from expandcontract.lint.registry import all_rules
from expandcontract.phases import LANES
from expandcontract.sql.parse import parse
from expandcontract.sql.schema import SchemaModel


def lint_project(
    config: Config, options: LintOptions, since: str | None = None, only: list[str] | None = None
) -> LintResult:
    """Lint every revision (or those changed since `since`, or the revision files in `only`); all
    revisions are still rendered in order so later ones know what earlier ones created."""
    from expandcontract.phases.graph import graph_problems
    from expandcontract.phases.project import load_project
    from expandcontract.sql.alembic_capture import capture_revision, function_lines

    project = load_project(config, validate=False)
    sel = options.selection
    rules = all_rules()
    changed = _changed_since(config.root, since) if since else None
    if only is not None:
        picked = {Path(p).resolve() for p in only}
        changed = picked if changed is None else changed & picked
    schema = options.schema.copy() if options.schema else SchemaModel()
    findings: list[Finding] = []
    linted = 0

    def rel(path: Path) -> str:
        try:
            return str(path.resolve().relative_to(config.root.resolve()))
        except ValueError:
            return str(path)

    def meta(
        path: Path,
        line: int,
        rule_id: str,
        message: str,
        fix: list[str],
        rev: str | None,
        phase: str | None,
        column: int = 1,
    ) -> Finding:
        rule = rules[rule_id]
        return Finding(
            rel(path), line, column, rule_id, sel.severity(rule), message, rule.why, fix, phase=phase, revision=rev
        )

    graph: dict[str, list[Finding]] = {}
    for problem in graph_problems(project):  # the same rules load_project enforces (phases/graph.py)
        if problem.rule not in rules:
            continue
        rev = project.revisions[problem.revision]
        line = _line_of(rev.path, problem.anchor) if problem.anchor else 1
        fix = problem.fix[0].upper() + problem.fix[1:] + "."
        graph.setdefault(rev.id, []).append(
            meta(rev.path, line, problem.rule, problem.message, [fix], rev.id, rev.phase)
        )

    for rev in project.ordered():
        phase = rev.phase if rev.phase in LANES and rev.change else None
        change = project.changes.get(rev.change) if rev.change else None
        capture = capture_revision(rev.module, rev.path)
        ctx = LintContext(
            pg_version=options.pg_version,
            phase=phase,
            change_has_expand=bool(change and change.expand is not None),
            change=rev.change if phase else None,
            alembic=True,
            schema=schema,
            state=MigrationState(in_transaction=True),
        )
        units: list[Unit] = []
        path = rel(rev.path)
        rev_findings: list[Finding] = list(graph.get(rev.id, []))
        for op in capture.ops:
            if not op.sql.strip():
                continue
            parsed = parse(op.sql)
            if parsed.error is not None:
                rev_findings.append(
                    meta(
                        rev.path,
                        op.line,
                        "syntax-error",
                        f"the SQL of this {op.name} op does not parse: {parsed.error.message}",
                        ["Fix the SQL of this op."],
                        rev.id,
                        phase,
                        op.column,
                    )
                )
            units.append(Unit(parsed.statements, op.name, op.existing_types, op.table, op.line, op.column))
        rev_findings += run(units, ctx, sel, path, rev.id)
        seen_lines: set[int] = set()
        for line, col, message in sorted(capture.problems):
            if line in seen_lines:
                continue
            seen_lines.add(line)
            rev_findings.append(
                meta(
                    rev.path,
                    line,
                    "not-analysable",
                    message,
                    [
                        "Write the SQL literally (or as Alembic ops), or add "
                        "`# expandcontract: ignore[not-analysable] <why it is safe>` on the line before."
                    ],
                    rev.id,
                    phase,
                    col,
                )
            )
        for st in (s for u in units for s in u.statements if s.dynamic):
            rev_findings.append(
                meta(
                    rev.path,
                    st.line,
                    "not-analysable",
                    "EXECUTE of a computed string inside DO cannot be analysed offline",
                    [],
                    rev.id,
                    phase,
                )
            )
        if changed is not None and rev.path.resolve() not in changed:
            continue
        linted += 1
        rev_findings = [f for f in rev_findings if sel.enabled(f.rule)]
        ignores = find_ignores(_read(rev.path), function_lines(rev.path, "downgrade"), python=True)
        assign_line = _line_of(rev.path, "ec_safety_assured")
        for rule_id, reason in rev.safety_assured.items():
            ignores.append(Ignore(assign_line, None, (rule_id,), str(reason or "").strip(), source="safety_assured"))
        findings += apply_ignores(
            rev_findings,
            ignores,
            path,
            sel.enabled("unused-ignore"),
            sel.severity(rules["unused-ignore"]),
            sel.severity(rules["ignore-without-reason"]),
        )
    return LintResult(linted, sorted(findings, key=Finding.sort_key))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _line_of(path: Path, name: str) -> int:
    m = re.search(rf"^{re.escape(name)}\b", _read(path), re.M)
    return _read(path)[: m.start()].count("\n") + 1 if m else 1


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
