"""Findings the linter itself raises about what it could not read: SQL the parser rejects
(`syntax-error`) and code it could not see through offline (`not-analysable`). Shared by the .sql path
and the revision path so both say the same thing the same way."""

from __future__ import annotations

from expandcontract.lint.finding import Finding
from expandcontract.lint.registry import Selection, all_rules
from expandcontract.sql.parse import Statement

NOT_ANALYSABLE = "not-analysable"
NOT_ANALYSABLE_FIX = (
    "Write the SQL literally (or as Alembic ops), or add `# expandcontract: ignore[not-analysable] <why it is "
    "safe>` on the line before."
)
DYNAMIC_EXECUTE = "EXECUTE of a computed string inside DO cannot be analysed offline"


def meta_finding(
    rule_id: str,
    sel: Selection,
    path: str,
    line: int,
    column: int,
    message: str,
    fix: list[str],
    *,
    phase: str | None = None,
    revision: str | None = None,
    direction: str = "upgrade",
) -> Finding:
    rule = all_rules()[rule_id]
    return Finding(
        path,
        line,
        column,
        rule_id,
        sel.severity(rule, direction),
        message,
        rule.why,
        fix,
        phase=phase,
        revision=revision,
        direction=direction,
    )


def dynamic_executes(statements: list[Statement]) -> list[Statement]:
    """`EXECUTE <computed string>` inside DO blocks: SQL whose text is only known at run time."""
    return [st for st in statements if st.dynamic]
