"""Golden outputs of the rendered messages, one file per rule and form (SQL fixes vs Alembic fixes).
Regenerate with `EC_UPDATE_GOLDENS=1 pytest tests/lint/test_goldens.py` and review the diff."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from expandcontract.lint.render import render
from tests.lint.conftest import ProjectMaker
from tests.lint.rule_cases import FLAG, golden_case, options
from tests.lint.test_alembic_rules import BASE, UNPHASED, lint

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("EC_UPDATE_GOLDENS") == "1"

SQL_CASES: dict[str, tuple[str, dict[str, object]]] = {
    rid: case for rid in sorted({r for _, ids, _ in FLAG for r in ids}) if (case := golden_case(rid))
}


def check(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
    assert path.exists(), f"missing golden {path}; run with EC_UPDATE_GOLDENS=1"
    assert actual == path.read_text()


@pytest.mark.parametrize("rule_id", sorted(SQL_CASES))
def test_sql_golden(rule_id: str) -> None:
    from expandcontract.lint.api import lint_sql

    sql, opts = SQL_CASES[rule_id]
    findings = lint_sql(sql, "migration.sql", options(opts))
    check(
        GOLDEN / "sql" / f"{rule_id}.txt", "-- input:\n" + sql + "\n-- output:\n" + render("text", findings, 1) + "\n"
    )


ALEMBIC_CASES = {f"{ids[0]}-{i}": ops for i, (ops, ids) in enumerate(UNPHASED)}


@pytest.mark.parametrize("name", sorted(ALEMBIC_CASES))
def test_alembic_golden(make_project: Callable[[], ProjectMaker], name: str) -> None:
    ops = ALEMBIC_CASES[name]
    p = make_project()
    p.add(BASE, change=None, phased=False)
    p.add(ops, change=None, phased=False)
    findings = lint(p)
    check(GOLDEN / "alembic" / f"{name}.txt", "# ops:\n" + ops + "\n# output:\n" + render("text", findings, 2) + "\n")


def test_phase_rules_golden(make_project: Callable[[], ProjectMaker]) -> None:
    p = make_project()
    p.add(BASE, change="base")
    p.add('op.add_column("users", sa.Column("nick", sa.Text()))\nop.drop_column("users", "name")', change="nick")
    p.add('op.execute("UPDATE users SET nick = name")\nop.add_column("users", sa.Column("x", sa.Text()))',
          phase="migrate", change="nick")  # fmt: skip
    p.add('op.drop_column("users", "age")', phase="contract", change="lonely")
    check(GOLDEN / "alembic" / "phase-rules.txt", render("text", lint(p), 4) + "\n")
