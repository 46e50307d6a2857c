"""Hand-judged precision and recall of `expandcontract lint` on real Alembic histories.

benchmarks/lint_judged.yaml holds two lists, judged by reading each revision (PostgreSQL 15, a
zero-downtime deploy: old and new code share the database while the revision runs):

- `findings`: a seeded random sample of the linter's findings (`--draw`), each `verdict: hazard` (the
  statement really blocks or breaks traffic as the message says) or `verdict: false-alarm`;
- `hazards`: the hazards found by reading a seeded random sample of revisions by hand (`--draw`), each
  with the rule id that should report it.

By default this script lints the histories again (benchmarks/real_histories.py: each application in its
own venv, PyPI wheels, nothing of theirs committed) or reads `--results FILE` that real_histories.py
wrote, and recomputes:

- precision = judged findings the linter still reports that are hazards / judged findings it still reports;
- recall = hand-found hazards it reports (a finding of that rule in that revision and direction, on the
  hazard's line when the judgement gives one) / all.

Judged findings it no longer reports are listed: false alarms a fix removed, or hazards it lost (or
that moved: judge again).

Run:
  python benchmarks/lint_judged.py                       # lint again, then the figures
  python benchmarks/lint_judged.py --results benchmarks/results/real_histories/results-after.json
  python benchmarks/lint_judged.py --draw --seed 13      # the samples to judge (findings and revisions)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
JUDGED = ROOT / "benchmarks" / "lint_judged.yaml"
NOT_CLAIMS = ("not-analysable", "unused-ignore", "ignore-without-reason", "syntax-error")

Key = tuple[str, str, str, str, int]


def current_results(path: Path | None) -> dict[str, dict[str, Any]]:
    if path is not None:
        data: dict[str, dict[str, Any]] = json.loads(path.read_text())
        return data
    sys.path.insert(0, str(ROOT))
    from benchmarks import real_histories

    out: dict[str, dict[str, Any]] = {}
    for name in real_histories.PROJECTS:
        real_histories.setup(name)
        out[name] = real_histories.run_inner(name, None)
    return out


def claims(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every finding that claims a hazard (not the linter's own notices), with its project."""
    out = []
    for project, data in sorted(results.items()):
        for f in data.get("findings", []):
            if f["rule"] not in NOT_CLAIMS:
                out.append({"project": project, **f})
    return sorted(out, key=lambda f: (f["project"], f["revision"] or "", f["direction"], f["line"], f["rule"]))


def key(f: dict[str, Any]) -> Key:
    return (f["project"], str(f["revision"]), f["rule"], f.get("direction", "upgrade"), int(f["line"]))


def figures(judged: dict[str, Any], results: dict[str, dict[str, Any]]) -> list[str]:
    found = {key(f) for f in claims(results)}
    by_revision = {(k[0], k[1], k[2], k[3]) for k in found}

    def reported(h: dict[str, Any]) -> bool:
        where = (h["project"], str(h["revision"]), h["rule"], h.get("direction", "upgrade"))
        return (*where, int(h["line"])) in found if "line" in h else where in by_revision

    sample = judged.get("findings") or []
    present = [j for j in sample if key(j) in found]
    gone = [j for j in sample if key(j) not in found]
    hazards = [j for j in present if j["verdict"] == "hazard"]
    lines = [
        f"precision: {len(hazards)}/{len(present)} judged findings are hazards "
        f"({100 * len(hazards) / max(len(present), 1):.0f}%)"
    ]
    for j in present:
        if j["verdict"] != "hazard":
            lines.append(f"  false alarm: {j['project']} {j['revision']} {j['rule']}: {j['reason']}")
    for j in gone:
        what = "false alarm fixed" if j["verdict"] != "hazard" else "hazard NO LONGER REPORTED"
        lines.append(f"  {what}: {j['project']} {j['revision']} {j['rule']} line {j['line']}")
    hand = judged.get("hazards") or []
    caught = [h for h in hand if reported(h)]
    share = 100 * len(caught) / max(len(hand), 1)
    lines.append(f"recall: {len(caught)}/{len(hand)} hand-found hazards are reported ({share:.0f}%)")
    for h in hand:
        if h not in caught:
            lines.append(f"  missed: {h['project']} {h['revision']} {h['rule']}: {h['reason']}")
    return lines


def draw(results: dict[str, dict[str, Any]], seed: int, n_findings: int, n_revisions: int) -> None:
    """Print the seeded samples to judge: findings, and revisions to read for hazards."""
    rng = random.Random(seed)
    pool = claims(results)
    for f in rng.sample(pool, min(n_findings, len(pool))):
        print(f"finding {f['project']} {f['revision']} {f['direction']} line {f['line']} {f['rule']}: {f['message']}")
        print(f"    {f['path']}")
    sys.path.insert(0, str(ROOT))
    from benchmarks.real_histories import migrations_dir

    revisions = [
        (project, str(path))
        for project in sorted(results)
        for path in sorted(migrations_dir(project).glob("versions/**/*.py"))
        if path.name != "__init__.py"
    ]
    for project, path in rng.sample(revisions, min(n_revisions, len(revisions))):
        print(f"revision {project} {path}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", type=Path, default=None, help="a results JSON of real_histories.py")
    ap.add_argument("--draw", action="store_true", help="print the seeded samples to judge")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--findings", type=int, default=30)
    ap.add_argument("--revisions", type=int, default=40)
    args = ap.parse_args()
    results = current_results(args.results)
    if args.draw:
        draw(results, args.seed, args.findings, args.revisions)
        return
    judged = yaml.safe_load(JUDGED.read_text())
    print("\n".join(figures(judged, results)))


if __name__ == "__main__":
    main()
