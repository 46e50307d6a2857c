"""Rule docs: every docstring has the four sections, docs/rules/ matches the docstrings, and every rule
module holds exactly one rule with an id that matches its module name."""

from __future__ import annotations

import os
from pathlib import Path

from expandcontract.lint.docs import main as write_docs
from expandcontract.lint.docs import missing_sections, render_all
from expandcontract.lint.registry import RULE_MODULES, all_rules

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"


def test_every_docstring_has_the_four_sections() -> None:
    assert missing_sections() == {}


def test_docs_rules_is_up_to_date() -> None:
    """`EC_UPDATE_GOLDENS=1 pytest tests/lint` writes the pages (with the golden outputs) for a new rule."""
    if os.environ.get("EC_UPDATE_GOLDENS") == "1":
        write_docs([str(DOCS)])
    pages = render_all()
    stale = [name for name, text in pages.items() if not (DOCS / name).exists() or (DOCS / name).read_text() != text]
    extra = sorted(p.name for p in DOCS.glob("*.md") if p.name not in pages)
    assert (stale, extra) == ([], []), "run `python -m expandcontract.lint.docs` (or EC_UPDATE_GOLDENS=1 pytest)"


def test_one_rule_per_module_named_after_its_id() -> None:
    rules = all_rules()
    assert len(rules) == len(RULE_MODULES)
    assert sorted(r.replace("-", "_") for r in rules) == sorted(RULE_MODULES)


def test_rule_ids_are_the_public_contract() -> None:
    catalogue = {
        "drop-column", "drop-table", "rename-column", "rename-table", "change-column-type",
        "add-column-volatile-default", "add-required-column", "add-serial-column", "add-generated-stored-column",
        "create-index-non-concurrently", "drop-index-non-concurrently", "concurrently-in-transaction",
        "add-foreign-key-validated", "add-check-validated", "validate-constraint-same-transaction", "set-not-null",
        "add-unique-constraint", "add-primary-key", "add-exclusion-constraint", "reindex-non-concurrently",
        "detach-partition-non-concurrently", "vacuum-full-or-cluster", "backfill-in-ddl-transaction",
    }  # fmt: skip
    phase = {"destructive-outside-contract", "ddl-in-migrate", "unbatched-backfill", "contract-without-expand"}
    rules = all_rules()  # ids are never renamed or removed; new rules add ids
    assert catalogue <= {r for r, v in rules.items() if v.kind == "catalogue"}
    assert phase <= {r for r, v in rules.items() if v.kind == "phase"}
    assert all(rules[r].severity == "error" for r in catalogue | phase)
    assert rules["unused-ignore"].severity == rules["not-analysable"].severity == "warning"
