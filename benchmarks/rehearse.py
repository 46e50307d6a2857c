"""Rehearse benchmark: what it catches on a planted set, beside the linter, and what it costs.

    python benchmarks/rehearse.py [--rows 300000] [--light-rows 10000] [--seconds 1] [--only SLUG ...]
                                  [--database-url URL] [--json FILE]

On a fresh embedded PostgreSQL (fsync off, as rehearse's own scratch server) unless --database-url:

1. Planted set (tests/rehearse/planted.py): 20 unsafe changes and 11 safe counterparts, from the
   example's first release. Each is rehearsed (`--seconds` per step; the cases whose damage is a lock held
   as long as the table is big at `--rows`, the others at `--light-rows`) and linted with the project's
   own linter, side by side. Reported: caught / missed per case, with the expected problem kind, phase
   and release; false alarms on the safe ones; the longest lock wait of the step that should stall, and
   the catch rate it would give at lower `--max-lock-wait-ms` limits (100, 200 ms).
2. The example history (three changes, 14 steps) rehearsed with the default 2 s per step at 10,000,
   110,000 and 210,000 rows per table: wall time and its cost per extra 100,000 rows (least squares).
3. One typical change (the example's users-full-name: trigger, backfill, contract) at 300,000 rows per
   table with the default settings: wall time (issue 11 asks for under a minute).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from expandcontract.config import load_config  # noqa: E402
from expandcontract.db.connect import connect  # noqa: E402
from expandcontract.demo import copy_example, example_at  # noqa: E402
from expandcontract.lint import LintOptions, lint_project  # noqa: E402
from expandcontract.phases.project import load_project  # noqa: E402
from expandcontract.rehearse import Options, Report, rehearse  # noqa: E402
from tests.rehearse import planted  # noqa: E402

LIMITS_MS = (100, 200, 500)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rehearse_case(tmp: Path, server: str, case: planted.Case, rows: int, seconds: float) -> dict[str, Any]:
    built = planted.build(tmp / case.slug, case)
    config = load_config(start=built.root)
    findings = [
        f for f in lint_project(config, LintOptions()).findings if f.severity == "error" and "planted" in str(f.path)
    ]
    started = time.monotonic()
    report = rehearse(
        load_project(config),
        old=built.old,
        old_models=built.old_models,
        new_models=built.new_models,
        options=Options(rows=rows, seconds=seconds, max_lock_wait_ms=min(LIMITS_MS)),
        server_url=server,
    )
    wall = time.monotonic() - started
    return {"case": case, "report": report, "lint": sorted({f.rule for f in findings}), "wall_s": round(wall, 1)}


def problems_at(report: Report, limit_ms: float) -> set[tuple[str, str, str | None]]:
    """The problems rehearse reports with --max-lock-wait-ms `limit_ms` (the run used the lowest limit)."""
    found = {(p.kind, p.phase, p.release) for p in report.problems if p.kind != "stall"}
    for s in report.steps:
        if s.max_lock_wait_ms > limit_ms:
            found.add(("stall", s.phase, s.release))
    return found


def planted_set(tmp: Path, server: str, args: argparse.Namespace) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for case in planted.CASES:
        if args.only and case.slug not in args.only:
            continue
        n = args.rows if case.heavy else args.light_rows
        log(f"{case.slug}: rehearse at {n:,} rows, and lint")
        out = rehearse_case(tmp, server, case, n, args.seconds)
        report: Report = out["report"]
        row: dict[str, Any] = {
            "case": case.slug,
            "class": case.kind,
            "safe": case.safe,
            "linter_knows": case.linted,
            "heavy": case.heavy,
            "rows": n,
            "wall_s": out["wall_s"],
            "lint_rules": out["lint"],
            "expected": list(case.expect) if case.expect else None,
        }
        for limit in LIMITS_MS:
            got = problems_at(report, limit)
            row[f"rehearse_{limit}ms"] = (case.expect in got) if not case.safe else (not got)
        if case.expect and case.expect[0] == "stall":
            row["expected_step_max_lock_wait_ms"] = max(
                (s.max_lock_wait_ms for s in report.steps if (s.phase, s.release) == case.expect[1:]), default=0.0
            )
        row["reported"] = sorted({f"{p.kind} {p.phase} {p.release or '-'}" for p in report.problems})
        rows.append(row)
        verdict = "caught" if row["rehearse_500ms"] else "missed"
        if case.safe:
            verdict = "clean" if row["rehearse_500ms"] else "FALSE ALARM"
        log(f"  {verdict}; lint: {', '.join(row['lint_rules']) or 'nothing'}; {row['wall_s']}s")
    unsafe = [r for r in rows if not r["safe"]]
    safe = [r for r in rows if r["safe"]]
    summary: dict[str, Any] = {"unsafe": len(unsafe), "safe": len(safe)}
    for limit in LIMITS_MS:
        key = f"rehearse_{limit}ms"
        summary[f"caught_at_{limit}ms"] = sum(r[key] for r in unsafe)
        summary[f"false_alarms_at_{limit}ms"] = sum(not r[key] for r in safe)
    summary["lint_flags_unsafe"] = sum(bool(r["lint_rules"]) for r in unsafe)
    summary["lint_false_alarms"] = sum(bool(r["lint_rules"]) for r in safe)
    summary["either_at_500ms"] = sum(bool(r["lint_rules"]) or r["rehearse_500ms"] for r in unsafe)
    summary["linter_blind_cases"] = sum(not r["linter_knows"] for r in unsafe)
    summary["linter_blind_caught_at_500ms"] = sum(r["rehearse_500ms"] for r in unsafe if not r["linter_knows"])
    return {"cases": rows, "summary": summary}


def example_history(tmp: Path, server: str, sizes: list[int]) -> dict[str, Any]:
    new = copy_example(tmp / "history-new")
    old = example_at(tmp / "history-old", "initial-schema")
    runs = []
    for rows in sizes:
        log(f"example history at {rows:,} rows per table")
        started = time.monotonic()
        report = rehearse(
            load_project(load_config(start=new)),
            old=old,
            old_models="app.releases.initial_schema:Base",
            options=Options(rows=rows),
            server_url=server,
        )
        runs.append(
            {
                "rows": rows,
                "wall_s": round(time.monotonic() - started, 1),
                "ok": report.ok,
                "problems": [f"{p.kind} {p.change} {p.phase} {p.release}: {p.message}" for p in report.problems],
            }
        )
    xs = [r["rows"] / 100_000 for r in runs]
    ys = [r["wall_s"] for r in runs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / max(sum((x - mx) ** 2 for x in xs), 1e-9)
    return {"runs": runs, "seconds_per_100k_rows": round(slope, 2), "ratio_per_100k_rows": round(slope / ys[0], 3)}


def typical_change(tmp: Path, server: str, rows: int) -> dict[str, Any]:
    new = example_at(tmp / "typical-new", "users-full-name")
    old = example_at(tmp / "typical-old", "users-email-verified")
    log(f"one change (users-full-name) at {rows:,} rows per table, default settings")
    started = time.monotonic()
    report = rehearse(
        load_project(load_config(start=new)),
        old=old,
        old_models="app.releases.users_email_verified:Base",
        new_models="app.releases.users_full_name:Base",
        options=Options(rows=rows),
        server_url=server,
    )
    wall = time.monotonic() - started
    return {
        "rows": rows,
        "wall_s": round(wall, 1),
        "ok": report.ok,
        "problems": [f"{p.kind} {p.change} {p.phase} {p.release}: {p.message}" for p in report.problems],
        "steps": [{"step": s.step, "release": s.release, "seconds": s.seconds, "ops": s.ops} for s in report.steps],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="server for the scratch databases (default: embedded in a temp dir)")
    parser.add_argument("--rows", type=int, default=300_000, help="rows per table for the lock-duration cases")
    parser.add_argument("--light-rows", type=int, default=10_000, help="rows per table for the other cases")
    parser.add_argument("--seconds", type=float, default=1.0, help="traffic per step in the planted set")
    parser.add_argument("--only", nargs="*", default=[], help="planted cases to run (default: all)")
    parser.add_argument("--skip-timing", action="store_true", help="only the planted set")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ec-bench-rehearse-"))
    embedded_dir = tmp / "pg"
    try:
        if args.database_url:
            server = args.database_url
        else:
            from expandcontract.db import embedded

            server = embedded.start(embedded_dir, fast=True)
        with connect(server) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        figures: dict[str, Any] = {"server": f"PostgreSQL {row[0] if row else '?'}"}
        figures["planted"] = planted_set(tmp, server, args)
        if not args.skip_timing:
            figures["example_history"] = example_history(tmp, server, [10_000, 110_000, 210_000])
            figures["typical_change_300k"] = typical_change(tmp, server, 300_000)
    finally:
        if not args.database_url:
            from expandcontract.db import embedded

            embedded.stop(embedded_dir)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(figures, indent=2, default=str))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
