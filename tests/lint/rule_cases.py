"""Per-rule test data: tests/lint/cases/RULE-ID.yaml, one file per rule, read here for every test that
needs SQL examples (test_rule_cases, the goldens, the lock facts). A new rule adds its own file:

    flag:                       # each must raise RULE-ID, plus the ids in `also`, and nothing else
      - sql: ALTER TABLE users DROP COLUMN email;
        also: [other-rule]      # optional
        options: {pg_version: 10, transaction: none, phase: expand, schema: true}  # optional
    pass:                       # optional look-alikes: each must raise nothing
      - sql: ALTER TABLE users ADD COLUMN nick text;

`schema: true` means the shared tests/lint/cases/schema.sql; `_look-alikes.yaml` holds look-alikes of
several rules at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from expandcontract.lint.api import LintOptions
from expandcontract.sql.schema import schema_from_ddl

CASES = Path(__file__).parent / "cases"
SCHEMA = (CASES / "schema.sql").read_text()

Case = tuple[str, set[str], dict[str, object]]


def _options(raw: dict[str, Any] | None, where: str) -> dict[str, object]:
    opts: dict[str, object] = dict(raw or {})
    unknown = set(opts) - {"pg_version", "transaction", "phase", "schema"}
    assert not unknown, f"{where}: unknown option(s) {sorted(unknown)}"
    if opts.get("schema") is True:
        opts["schema"] = SCHEMA
    return opts


def load() -> tuple[dict[str, list[Case]], list[Case]]:
    """-> ({rule id: its flag cases}, every pass case) in file order, files by name."""
    flag: dict[str, list[Case]] = {}
    passes: list[Case] = []
    for path in sorted(CASES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        assert set(data) <= {"flag", "pass"}, f"{path.name}: only `flag` and `pass` lists"
        rule = path.stem
        for i, case in enumerate(data.get("flag") or ()):
            where = f"{path.name} flag[{i}]"
            assert not rule.startswith("_"), f"{where}: flag cases belong in the rule's own file"
            flag.setdefault(rule, []).append(
                (case["sql"], {rule, *case.get("also", ())}, _options(case.get("options"), where))
            )
        for i, case in enumerate(data.get("pass") or ()):
            passes.append((case["sql"], set(), _options(case.get("options"), f"{path.name} pass[{i}]")))
    return flag, passes


FLAG_BY_RULE, PASS = load()
FLAG: list[Case] = [case for cases in FLAG_BY_RULE.values() for case in cases]


def options(opts: dict[str, object]) -> LintOptions:
    kw = dict(opts)
    if "schema" in kw:
        kw["schema"] = schema_from_ddl(str(kw["schema"]))
    return LintOptions(**kw)  # type: ignore[arg-type]


def golden_case(rule_id: str) -> tuple[str, dict[str, object]] | None:
    """The example a rule's golden output is rendered from: its file's first flag case."""
    cases = FLAG_BY_RULE.get(rule_id) or [c for c in FLAG if rule_id in c[1]]
    return (cases[0][0], cases[0][2]) if cases else None
