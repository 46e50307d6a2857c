"""Lint Alembic revisions one at a time, in order, each knowing what the ones before it did.

A `RevisionLinter` walks a project's revisions (the order is the caller's: lane by lane), renders each
revision's upgrade() offline op by op, runs the rules over every op's SQL, and follows the schema the
revisions build, so later revisions know which tables are new and what type a column had. Each
revision's downgrade() is linted too, with the catalogue rules, against the schema its upgrade left (a
rollback runs under traffic as well); its findings say `direction: downgrade`.

Findings are kept per file; ignores are applied per file at the end (a change's migrate can make a
finding of its expand due, see `not-valid-check-before-backfill`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expandcontract.lint.context import ChangeState, LintContext, MigrationState
from expandcontract.lint.engine import Unit, run
from expandcontract.lint.finding import Finding
from expandcontract.lint.meta import DYNAMIC_EXECUTE, NOT_ANALYSABLE, NOT_ANALYSABLE_FIX, meta_finding
from expandcontract.names import LANES
from expandcontract.sql.parse import parse
from expandcontract.sql.schema import SchemaModel

if TYPE_CHECKING:
    from expandcontract.lint.api import LintOptions
    from expandcontract.phases.project import Project, Revision
    from expandcontract.sql.alembic_capture import Capture, OfflineRenderer


@dataclass
class RenderStats:
    """How much of the history the linter saw (benchmarks/real_histories.py reports these)."""

    revisions: int = 0
    complete: int = 0  # upgrade() rendered to the end with every op
    incomplete: list[str] = field(default_factory=list)  # revision ids that were not


class RevisionLinter:
    def __init__(self, project: Project, options: LintOptions, rel: Any) -> None:
        self.project = project
        self.options = options
        self.sel = options.selection
        self.rel = rel  # Path -> the path findings print
        self.schema = options.schema.copy() if options.schema else SchemaModel()
        self.changes: dict[str, ChangeState] = {}
        self.findings: dict[str, list[Finding]] = {}
        self.stats = RenderStats()

    def bucket(self, path: str) -> list[Finding]:
        return self.findings.setdefault(path, [])

    def lint(self, rev: Revision, renderer: OfflineRenderer) -> None:
        phase = rev.phase if rev.phase in LANES and rev.change else None
        change = self.project.changes.get(rev.change) if rev.change else None
        change_state = self.changes.setdefault(rev.change, ChangeState()) if phase and rev.change else ChangeState()
        ctx = LintContext(
            pg_version=self.options.pg_version,
            phase=phase,
            change_has_expand=bool(change and change.expand is not None),
            change=rev.change if phase else None,
            alembic=True,
            schema=self.schema,
            state=MigrationState(in_transaction=True),
            change_state=change_state,
        )
        capture = renderer.render(rev.module, rev.path, "upgrade", self.schema)
        self.stats.revisions += 1
        if capture.complete:
            self.stats.complete += 1
        else:
            self.stats.incomplete.append(rev.id)
        self._lint_capture(capture, ctx, rev)
        if self.sel.downgrade != "off" and callable(getattr(rev.module, "downgrade", None)):
            self._downgrade(rev, renderer, ctx)

    def _downgrade(self, rev: Revision, renderer: OfflineRenderer, upgraded: LintContext) -> None:
        """downgrade() runs against the schema the upgrade left; what the upgrade created is new to the
        release it rolls back to, so removing it again is not flagged."""
        schema = self.schema.copy()
        state = MigrationState(in_transaction=True)
        state.new_tables = set(upgraded.state.new_tables)
        state.new_indexes = dict(upgraded.state.new_indexes)
        state.new_columns = set(upgraded.state.new_columns)
        ctx = LintContext(
            pg_version=self.options.pg_version,
            alembic=True,
            schema=schema,
            state=state,
            direction="downgrade",
        )
        capture = renderer.render(rev.module, rev.path, "downgrade", schema)
        self._lint_capture(capture, ctx, rev)

    def _lint_capture(self, capture: Capture, ctx: LintContext, rev: Revision) -> None:
        path = self.rel(rev.path)
        out = self.bucket(path)
        units: list[Unit] = []
        kw: dict[str, Any] = {"phase": ctx.phase, "revision": rev.id, "direction": ctx.direction}
        for op in capture.ops:
            if op.name == "backfill":
                units.append(Unit([], "backfill", op_table=op.table, line=op.line, backfilled=op.backfilled))
                continue
            if not op.sql.strip():
                continue
            parsed = op.parsed or parse(op.sql)
            if parsed.error is not None:
                out.append(
                    meta_finding(
                        "syntax-error",
                        self.sel,
                        path,
                        op.line,
                        op.column,
                        f"the SQL of this {op.name} op does not parse: {parsed.error.message}",
                        ["Fix the SQL of this op."],
                        **kw,
                    )
                )
            units.append(
                Unit(
                    parsed.statements,
                    op.name,
                    op.existing_types,
                    op.table,
                    op.line,
                    op.column,
                    existing_not_null=op.existing_not_null,
                )
            )
        for finding in run(units, ctx, self.sel, path, rev.id):
            self.bucket(finding.path).append(finding)
        seen_lines: set[int] = set()
        for line, col, message in sorted(capture.problems):
            if line not in seen_lines:
                seen_lines.add(line)
                out.append(meta_finding(NOT_ANALYSABLE, self.sel, path, line, col, message, [NOT_ANALYSABLE_FIX], **kw))
        for line, col in offline_branches(rev.path, ctx.direction):
            out.append(meta_finding(NOT_ANALYSABLE, self.sel, path, line, col, OFFLINE_BRANCH, [OFFLINE_FIX], **kw))
        for unit in units:
            for st in unit.statements:
                if st.dynamic:
                    line = unit.line if unit.line is not None else st.line
                    out.append(
                        meta_finding(NOT_ANALYSABLE, self.sel, path, line, unit.column, DYNAMIC_EXECUTE, [], **kw)
                    )


OFFLINE_BRANCH = (
    "this function asks context.is_offline_mode(): the linter renders it offline, so what it runs against a "
    "database (the other branch) was not linted"
)
OFFLINE_FIX = "Lint the online branch's SQL too: write it as ops or literal SQL that both modes run, or review it."


def offline_branches(path: Path, function: str) -> list[tuple[int, int]]:
    """Where upgrade() / downgrade() call `is_offline_mode()` (its code differs between the offline
    rendering the linter sees and a real run)."""
    import ast

    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []
    out: list[tuple[int, int]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            for call in ast.walk(node):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute | ast.Name)
                    and getattr(call.func, "attr", getattr(call.func, "id", "")) == "is_offline_mode"
                ):
                    out.append((call.lineno, call.col_offset + 1))
    return out


def relative_to(root: Path) -> Any:
    def rel(path: Path) -> str:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            return str(path)

    return rel
