"""Accuracy of `expandcontract lint` vs squawk on the labelled corpus (tests/lint/corpus).

Both tools get the same files, the same PostgreSQL version and the same transaction mode (files marked
`-- transaction: none` run without squawk's --assume-in-transaction and with our --transaction none).
Squawk's rule names are mapped to our ids; squawk's style and timeout rules (prefer-*, require-*-timeout,
ban-char-field, ...) have no counterpart in the catalogue (lint-rules.md puts them out of scope) and are
dropped. Scores are over (file, rule) pairs: precision, recall and F1 per rule and overall.

Run: python benchmarks/lint_accuracy.py [--pg-version 17] [--no-schema]
Needs squawk-cli on PATH or next to this Python (pip install squawk-cli; benchmark-only dependency).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "lint" / "corpus"

# squawk rule -> our rule id (None: out of scope; callables decide from the message / statement)
SQUAWK_MAP: dict[str, str | None] = {
    "ban-drop-column": "drop-column",
    "ban-drop-table": "drop-table",
    "renaming-column": "rename-column",
    "renaming-table": "rename-table",
    "changing-column-type": "change-column-type",
    "adding-field-with-default": "add-column-volatile-default",
    "adding-required-field": "add-required-column",
    "adding-serial-primary-key-field": "add-serial-column",
    "require-concurrent-index-creation": "create-index-non-concurrently",
    "require-concurrent-index-deletion": "drop-index-non-concurrently",
    "ban-concurrent-index-creation-in-transaction": "concurrently-in-transaction",
    "adding-foreign-key-constraint": "add-foreign-key-validated",
    "constraint-missing-not-valid": "add-check-validated",
    "adding-not-nullable-field": "set-not-null",
    "disallowed-unique-constraint": "add-unique-constraint",
    "adding-primary-key-constraint": "add-primary-key",
    "require-concurrent-reindex": "reindex-non-concurrently",
    "require-concurrent-partition-detach": "detach-partition-non-concurrently",
    # flags on statements lint-rules.md lists under "Do NOT flag": scored as false positives
    "ban-drop-not-null": "(drop-not-null)",
    "renaming-object": "(rename-index-or-constraint)",
}


def labels(path: Path) -> tuple[set[str], str]:
    text = path.read_text()
    first = text.splitlines()[0].removeprefix("-- expect:")
    expected = {r.strip() for r in first.split(",") if r.strip() and r.strip() != "none"}
    return expected, ("none" if "-- transaction: none" in text else "per-file")


def squawk_binary() -> str:
    local = Path(sys.executable).with_name("squawk")
    found = str(local) if local.exists() else shutil.which("squawk")
    if not found:
        sys.exit("squawk not found: pip install squawk-cli")
    return found


def run_ours(files: list[Path], mode: str, pg: int, schema: bool) -> dict[str, set[str]]:
    cmd = [
        sys.executable,
        "-m",
        "expandcontract",
        "lint",
        "--format",
        "json",
        "--pg-version",
        str(pg),
        "--transaction",
        mode,
    ]
    if schema:
        cmd += ["--schema", str(CORPUS / "schema.ddl")]
    out = subprocess.run(cmd + [str(f) for f in files], capture_output=True, text=True, cwd=ROOT)
    found: dict[str, set[str]] = defaultdict(set)
    for f in json.loads(out.stdout)["findings"]:
        found[Path(f["path"]).name].add(f["rule"])
    return found


def _statement_at(path: Path, item: dict[str, object]) -> str:
    """The source text squawk's finding points at (its lines are 0-based)."""
    lines = path.read_text().splitlines()
    first, last = int(str(item["line"])), int(str(item.get("line_end", item["line"])))
    return " ".join(lines[first : last + 1]).lower()


def map_squawk(item: dict[str, object], path: Path) -> str | None:
    """Squawk's rule -> our id. Some squawk rules cover several of ours (its messages do not always
    say which case fired), so the statement it points at decides."""
    rule = str(item["rule_name"])
    message = str(item.get("message", ""))
    mapped = SQUAWK_MAP.get(rule)
    text = _statement_at(path, item)
    if rule == "adding-field-with-default":
        if "identity" in text or "serial" in text:
            return "add-serial-column"
        if "generated always as (" in text:
            return "add-generated-stored-column"
    if rule == "adding-serial-primary-key-field":
        return "add-primary-key" if "primary key" in text and "serial" not in text else "add-serial-column"
    if rule == "renaming-object" and "alter table" in text and "rename to" in text:
        return "rename-table"
    if rule == "constraint-missing-not-valid":
        if "same transaction" in message:
            return "validate-constraint-same-transaction"
        if "foreign" in text or "references" in text:
            return "add-foreign-key-validated"
    return mapped


def run_squawk(files: list[Path], mode: str, pg: int) -> dict[str, set[str]]:
    cmd = [squawk_binary(), "--reporter", "json", f"--pg-version={pg}"]
    if mode == "per-file":
        cmd.append("--assume-in-transaction")
    out = subprocess.run(cmd + [str(f) for f in files], capture_output=True, text=True)
    found: dict[str, set[str]] = defaultdict(set)
    by_name = {f.name: f for f in files}
    for item in json.loads(out.stdout or "[]"):
        name = Path(item["file"]).name
        mapped = map_squawk(item, by_name[name])
        if mapped:
            found[name].add(mapped)
    return found


def score(expected: dict[str, set[str]], found: dict[str, set[str]]) -> dict[str, tuple[int, int, int]]:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # tp, fp, fn
    for name, exp in expected.items():
        got = found.get(name, set())
        for r in exp & got:
            per[r][0] += 1
        for r in got - exp:
            per[r][1] += 1
        for r in exp - got:
            per[r][2] += 1
    return {r: (v[0], v[1], v[2]) for r, v in per.items()}


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def total(scores: dict[str, tuple[int, int, int]]) -> tuple[int, int, int]:
    return (sum(v[0] for v in scores.values()), sum(v[1] for v in scores.values()), sum(v[2] for v in scores.values()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg-version", type=int, default=17)
    ap.add_argument("--no-schema", action="store_true", help="do not give expandcontract the schema file")
    args = ap.parse_args()
    files = sorted(CORPUS.glob("*.sql"))
    expected = {f.name: labels(f)[0] for f in files}
    ours: dict[str, set[str]] = {}
    theirs: dict[str, set[str]] = {}
    for mode in ("per-file", "none"):
        group = [f for f in files if labels(f)[1] == mode]
        if group:
            ours.update(run_ours(group, mode, args.pg_version, not args.no_schema))
            theirs.update(run_squawk(group, mode, args.pg_version))
    s_ours, s_theirs = score(expected, ours), score(expected, theirs)
    rules = sorted(set(s_ours) | set(s_theirs))
    print(
        f"corpus: {len(files)} files ({sum(not v for v in expected.values())} safe look-alikes), "
        f"pg {args.pg_version}, schema for expandcontract: {not args.no_schema}"
    )
    print(f"{'rule':40} {'expandcontract P/R/F1':>24} {'squawk P/R/F1':>24}")
    for r in rules:
        a = prf(*s_ours.get(r, (0, 0, 0)))
        b = prf(*s_theirs.get(r, (0, 0, 0)))
        print(f"{r:40} {a[0]:7.2f} {a[1]:7.2f} {a[2]:7.2f}  {b[0]:7.2f} {b[1]:7.2f} {b[2]:7.2f}")
    a, b = prf(*total(s_ours)), prf(*total(s_theirs))
    print(f"{'OVERALL':40} {a[0]:7.3f} {a[1]:7.3f} {a[2]:7.3f}  {b[0]:7.3f} {b[1]:7.3f} {b[2]:7.3f}")
    print(
        json.dumps(
            {
                "expandcontract": dict(zip(("precision", "recall", "f1"), a, strict=True)),
                "squawk": dict(zip(("precision", "recall", "f1"), b, strict=True)),
            }
        )
    )


if __name__ == "__main__":
    main()
