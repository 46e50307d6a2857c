"""Every case of tests/lint/cases/*.yaml (see rule_cases.py): flag cases raise exactly their rules,
pass cases raise nothing, and every catalogue and phase rule that .sql files can break has a file."""

from __future__ import annotations

import pytest

from expandcontract.lint.api import lint_sql
from expandcontract.lint.registry import all_rules
from tests.lint.rule_cases import CASES, FLAG, FLAG_BY_RULE, PASS, options

FLAG_IDS = [f"{rule}-{i}" for rule, cases in FLAG_BY_RULE.items() for i in range(len(cases))]


@pytest.mark.parametrize(("sql", "expected", "opts"), FLAG, ids=FLAG_IDS)
def test_flags(sql: str, expected: set[str], opts: dict[str, object]) -> None:
    found = {f.rule for f in lint_sql(sql, "m.sql", options(opts))}
    assert found == expected


@pytest.mark.parametrize(("sql", "expected", "opts"), PASS, ids=[str(i) for i in range(len(PASS))])
def test_does_not_flag(sql: str, expected: set[str], opts: dict[str, object]) -> None:
    found = [(f.rule, f.line, f.message) for f in lint_sql(sql, "m.sql", options(opts))]
    assert found == []


def test_every_sql_rule_has_its_case_file() -> None:
    wanted = {r.id for r in all_rules().values() if r.kind in ("catalogue", "phase") and r.sql_files}
    wanted -= {"contract-without-expand"}  # needs a project: tests/lint/test_alembic_rules.py
    assert sorted(wanted - set(FLAG_BY_RULE)) == []
    names = {p.stem for p in CASES.glob("*.yaml") if not p.stem.startswith("_")}
    assert sorted(names - set(all_rules())) == []  # a file per existing rule id
