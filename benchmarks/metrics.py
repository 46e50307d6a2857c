"""Metrics cost, side by side in one run, as ratios.

    python benchmarks/metrics.py [--rows 300000] [--backfills 200] [--repeat 3]

On a fresh embedded PostgreSQL:

1. the batch loop: the same backfill (`expandcontract.backfill.api.run`, default config) on identical
   tables, with the Prometheus observer registered (what `run migrate --metrics-port` does) and without,
   interleaved, median of `--repeat` pairs (on a loaded machine the pairs vary more than the hook costs,
   so the hook's own cost per batch is timed too);
2. a scrape: the database state collector (what `serve /metrics` reads per scrape) with `--backfills`
   registered backfills, beside `backfill status`'s read of the same rows (`control.status`), median of
   20 each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prometheus_client import CollectorRegistry  # noqa: E402

from expandcontract.backfill import api, control, observe  # noqa: E402
from expandcontract.backfill.spec import Spec  # noqa: E402
from expandcontract.config import BackfillConfig  # noqa: E402
from expandcontract.db import embedded  # noqa: E402
from expandcontract.db.connect import connect  # noqa: E402
from expandcontract.db.url import with_database  # noqa: E402
from expandcontract.metrics.live import LiveMetrics  # noqa: E402
from expandcontract.metrics.state import StateCollector  # noqa: E402


def make_table(url: str, name: str, rows: int) -> None:
    with connect(url) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(f"CREATE TABLE {name} (id bigint PRIMARY KEY, v int, flag boolean)")
        conn.execute(f"ALTER TABLE {name} SET (autovacuum_enabled = off)")
        conn.execute(f"INSERT INTO {name} SELECT g, g FROM generate_series(1, {rows}) g")
        conn.execute(f"ANALYZE {name}")
        present = conn.execute("SELECT to_regclass('expandcontract.backfills') IS NOT NULL").fetchone()
        if present and present[0]:  # a fresh checkpoint per pair
            conn.execute("DELETE FROM expandcontract.backfills WHERE name = %s", (name,))
        conn.commit()


def timed_backfill(url: str, name: str, observed: bool) -> float:
    remove = observe.add(LiveMetrics(CollectorRegistry())) if observed else None
    try:
        t0 = time.perf_counter()
        api.run(url, Spec(name, name, {"flag": "v % 2 = 0"}), BackfillConfig(), lambda event: None)
        return time.perf_counter() - t0
    finally:
        if remove is not None:
            remove()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--backfills", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="ec-bench-metrics-"))
    base.chmod(0o755)
    server = embedded.start(base / "pg", fast=False)
    try:
        with connect(server, autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        url = with_database(server, "bench")
        print(f"PostgreSQL {version}, {args.rows:,} rows, cpus {os.cpu_count()} (machine shared: noisy)")
        ratios = []
        for i in range(args.repeat):
            make_table(url, "plain", args.rows)
            make_table(url, "observed", args.rows)
            order = (False, True) if i % 2 == 0 else (True, False)
            took = {obs: timed_backfill(url, "observed" if obs else "plain", obs) for obs in order}
            ratios.append(took[True] / took[False])
            print(f"  pair {i + 1}: without {took[False]:.2f} s, with the observer {took[True]:.2f} s")
        print(f"1. batch loop with the observer / without: {statistics.median(ratios):.3f}x (median of {len(ratios)})")
        remove = observe.add(LiveMetrics(CollectorRegistry()))
        try:
            calls = 100_000
            t0 = time.perf_counter()
            for _ in range(calls):
                observe.batch("bench", 10_000, 0.1, 10_000)
            per_call = (time.perf_counter() - t0) / calls
        finally:
            remove()
        print(f"   one observed batch costs {per_call * 1e6:.1f} us: {per_call / 0.1:.1e} of a 100 ms batch")

        with connect(url) as conn:  # many registered backfills, each with a few ranges
            for n in range(args.backfills):
                conn.execute(
                    "INSERT INTO expandcontract.backfills (name, table_schema, table_name, key_columns, key_types, "
                    "set_values, upper_bound, rows_estimate, status, throttled_reason) VALUES "
                    "(%s, 'public', 'plain', '{id}', '{bigint}', '{}', '{1000}', 1000, 'running', %s)",
                    (f"bench.{n}", "replica r@local is 12.0 s behind (max_replica_lag_s = 10)" if n % 3 else None),
                )
                for r in range(4):
                    conn.execute(
                        "INSERT INTO expandcontract.backfill_ranges (name, range_no, upper_key, rows_done, done) "
                        "VALUES (%s, %s, '{1000}', 250, %s)",
                        (f"bench.{n}", r, r < 2),
                    )
            conn.commit()
        collector = StateCollector(url)
        scrape, status = [], []
        for _ in range(20):
            t0 = time.perf_counter()
            families = list(collector.collect())
            scrape.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            rows = control.status(url)
            status.append(time.perf_counter() - t0)
        assert families[0].samples[0].value == 1 and len(rows) >= args.backfills
        s, b = statistics.median(scrape), statistics.median(status)
        print(
            f"2. scrape of {len(rows)} backfills: {s * 1000:.1f} ms; `backfill status` read {b * 1000:.1f} ms; "
            f"ratio {s / b:.2f}x (median of 20)"
        )
    finally:
        embedded.stop(base / "pg")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
