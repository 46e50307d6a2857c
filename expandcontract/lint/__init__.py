"""The linter: Rule protocol, registry, ignores, renderers and rules/<one rule per module>.

Public API (pinned by tests/lint/test_api.py):

- `lint_sql(sql, path, options)` -> list[Finding]: one SQL migration's text.
- `lint_paths(paths, options, stdin=None)` -> LintResult: .sql files / directories / `-`.
- `lint_project(config, options, since=None, only=None)` -> LintResult: every Alembic revision, in lane
  order (imports Alembic lazily).
- `LintOptions`, `LintResult` (.files, .findings, .exit_code, .to_dict()), `Finding` (.to_dict()),
  `render(fmt, findings, files)`, `get_rule(id)` / `all_rules()`.
"""

from __future__ import annotations

from expandcontract.lint.api import LintOptions, LintResult, lint_paths, lint_sql
from expandcontract.lint.finding import Finding
from expandcontract.lint.registry import all_rules, get_rule
from expandcontract.lint.render import render

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the .sql path never needs it)
if TYPE_CHECKING:
    from typing import Any

    from expandcontract.lint.project import lint_project

__all__ = [
    "Finding",
    "LintOptions",
    "LintResult",
    "all_rules",
    "get_rule",
    "lint_paths",
    "lint_project",
    "lint_sql",
    "render",
]


def __getattr__(name: str) -> Any:
    if name == "lint_project":
        from expandcontract.lint.project import lint_project

        return lint_project
    raise AttributeError(name)
