"""The project-graph rules (one head per lane, `ec_phase` matching its lane, contracts depending on their
change): the problems phases/graph.py finds that have a lint rule, as findings at their revision's line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expandcontract.lint.finding import Finding
from expandcontract.lint.registry import Selection, all_rules

if TYPE_CHECKING:
    from expandcontract.phases.project import Project


def graph_findings(project: Project, sel: Selection, rel: Any) -> list[Finding]:
    """The problems load_project refuses (phases/graph.py) that have a lint rule, as findings."""
    from expandcontract.phases.graph import graph_problems

    rules = all_rules()
    out: list[Finding] = []
    for problem in graph_problems(project):
        if problem.rule not in rules:
            continue
        rev = project.revisions[problem.revision]
        line = line_of(rev.path, problem.anchor) if problem.anchor else 1
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


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def line_of(path: Path, name: str) -> int:
    text = read_text(path)
    m = re.search(rf"^{re.escape(name)}\b", text, re.M)
    return text[: m.start()].count("\n") + 1 if m else 1
