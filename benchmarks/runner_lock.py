"""What checking the runner lock in every backfill batch costs: the engine with and without the check,
side by side in one run, as ratios.

    python benchmarks/runner_lock.py [--rows 200000] [--batch 1000] [--repeat 3]

On a fresh embedded PostgreSQL, on identical tables, fixed batch sizes (so both runs do the same number of
batches): the engine alone, and the engine with the runner's `check_lock` as its batch guard (a shared
transaction-level advisory lock plus one pg_locks probe inside each batch's transaction), pairs
interleaved; the median ratio is reported. Then the check alone against a `SELECT 1` round trip on one
connection (2,000 calls each, interleaved twice).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from expandcontract.backfill import api  # noqa: E402
from expandcontract.backfill.spec import Spec  # noqa: E402
from expandcontract.config import BackfillConfig  # noqa: E402
from expandcontract.db import embedded  # noqa: E402
from expandcontract.db.connect import connect  # noqa: E402
from expandcontract.phases.runner import Runner  # noqa: E402


def make_table(url: str, name: str, rows: int) -> None:
    with connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(f"CREATE TABLE {name} (id bigint PRIMARY KEY, v int NOT NULL, flag boolean)")
        conn.execute(f"INSERT INTO {name} SELECT g, g, NULL FROM generate_series(1, {rows}) g")
        conn.execute(f"VACUUM ANALYZE {name}")


def fill(url: str, table: str, batch: int, guard: Any) -> tuple[float, int]:
    cfg = BackfillConfig(
        batch_time_ms=10_000, initial_batch_size=batch, min_batch_size=batch, max_batch_size=batch, max_batch_fraction=0
    )
    t0 = time.perf_counter()
    result = api.run(
        url,
        Spec(f"bench.{table}.{time.time_ns()}", table, {"flag": "(v % 2 = 0)"}),
        cfg,
        lambda e: None,
        batch_guard=guard,
    )
    return time.perf_counter() - t0, result.batches


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="ec-bench-lock-"))
    data.chmod(0o755)
    url = embedded.start(data, fast=False)
    try:
        runner = Runner(SimpleNamespace(config=SimpleNamespace(ddl=None)), url, lambda m: None)  # type: ignore[arg-type]
        ratios, plain_s, guarded_s = [], [], []
        with runner.locked():
            for _ in range(args.repeat):
                make_table(url, "t_plain", args.rows)
                make_table(url, "t_guarded", args.rows)
                p, nb = fill(url, "t_plain", args.batch, None)
                g, ng = fill(url, "t_guarded", args.batch, runner.check_lock)
                assert nb == ng, (nb, ng)
                plain_s.append(p)
                guarded_s.append(g)
                ratios.append(g / p)
        print(f"rows {args.rows}, batches of {args.batch} ({nb} batches per run), {args.repeat} interleaved pairs")
        print(f"engine alone:             median {statistics.median(plain_s):.2f} s")
        print(f"engine + runner lock check: median {statistics.median(guarded_s):.2f} s")
        print(
            f"ratio guarded/plain: median {statistics.median(ratios):.3f} "
            f"(pairs: {', '.join(f'{r:.3f}' for r in ratios)})"
        )
        extra_ms = (statistics.median(guarded_s) - statistics.median(plain_s)) / nb * 1000
        print(f"extra per batch: {extra_ms:.3f} ms")
        with runner.locked(), connect(url) as conn:
            calls: dict[str, list[float]] = {"SELECT 1": [], "check_lock": []}
            for _ in range(2):
                for label in calls:
                    t0 = time.perf_counter()
                    for _ in range(2000):
                        if label == "check_lock":
                            runner.check_lock(conn)
                        else:
                            conn.execute("SELECT 1").fetchone()
                        conn.commit()
                    calls[label].append((time.perf_counter() - t0) / 2000 * 1000)
        one, check = min(calls["SELECT 1"]), min(calls["check_lock"])
        print(f"per call: SELECT 1 {one:.3f} ms, check_lock {check:.3f} ms (ratio {check / one:.2f})")
    finally:
        embedded.stop(data)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
