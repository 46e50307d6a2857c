"""Generate docs/rules/ from the rule docstrings: one page per rule plus an index, so the docs site,
`expandcontract rule RULE-ID` and the code can never disagree. Run `python -m expandcontract.lint.docs
[OUT_DIR]`; tests/lint/test_docs.py fails when docs/rules/ is stale."""

from __future__ import annotations

import sys
from pathlib import Path

from expandcontract.lint.registry import all_rules
from expandcontract.lint.rule import SECTIONS, Rule

KIND_TITLES = {
    "catalogue": "Catalogue rules (lint-rules.md)",
    "phase": "Phase-placement rules",
    "graph": "Project graph rules (additions)",
    "meta": "Linter rules",
}


def page(rule: Rule) -> str:
    out = [f"# `{rule.id}`", "", f"{rule.summary}. Kind: {rule.kind}; default severity: {rule.severity}.", ""]
    for name, body in rule.sections().items():
        out += [f"## {name}", "", body, ""]
    if rule.lock_checks:
        out += ["## Verified on PostgreSQL", ""]
        out += ["Each claim below is executed by `tests/lint/test_lock_facts.py` against a real server:", ""]
        for check in rule.lock_checks:
            claim = []
            if check.lock:
                claim.append(f"takes {check.lock} on `{check.table}`")
            if check.rewrite is not None:
                claim.append("rewrites the table" if check.rewrite else "does not rewrite the table")
            if check.fails_in_transaction:
                claim.append("is refused inside a transaction")
            out.append(f"- `{check.sql}` {', '.join(claim)}")
        out.append("")
    return "\n".join(out)


def index() -> str:
    rules = all_rules()
    out = ["# Lint rules", "", "Generated from the rule docstrings by `python -m expandcontract.lint.docs`.", ""]
    for kind, title in KIND_TITLES.items():
        out += [f"## {title}", "", "| id | detects | severity |", "|---|---|---|"]
        out += [f"| [`{r.id}`]({r.id}.md) | {r.summary} | {r.severity} |" for r in rules.values() if r.kind == kind]
        out.append("")
    return "\n".join(out)


def render_all() -> dict[str, str]:
    pages = {f"{r.id}.md": page(r) for r in all_rules().values()}
    pages["README.md"] = index()
    return pages


def missing_sections() -> dict[str, list[str]]:
    return {
        r.id: [s for s in SECTIONS if not r.sections().get(s)]
        for r in all_rules().values()
        if any(not r.sections().get(s) for s in SECTIONS)
    }


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path("docs/rules")
    out.mkdir(parents=True, exist_ok=True)
    for name, text in render_all().items():
        (out / name).write_text(text)
    print(f"wrote {len(render_all())} pages to {out}")


if __name__ == "__main__":
    main()
