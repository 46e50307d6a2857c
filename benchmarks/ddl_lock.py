"""DDL behind a long reader: a naive ALTER vs the expandcontract runner, measured on a writer.

A writer process does single-row inserts every 5 ms. Another session holds a lock on the table for 3 s
(a reader inside a transaction). Then `ALTER TABLE ... ADD COLUMN` runs:
  - naively (no lock_timeout): it queues for ACCESS EXCLUSIVE behind the reader, and every insert
    queues behind it;
  - through the runner with its defaults (wait out long holders, then lock_timeout 100 ms + retries);
  - through the runner with holder_wait_s = 0 (lock_timeout + jittered retries alone).
Reported: the writer's p99 and max latency (corrected for coordinated omission) in each run and while
idle, and the ratios. Goal: the runner keeps the writer's max within lock_timeout + 50 ms.

    python benchmarks/ddl_lock.py [--database-url URL]   # default: an embedded PostgreSQL in a temp dir
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import multiprocessing as mp
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._writer import percentile, writer
from expandcontract.db import embedded
from expandcontract.db.url import with_database

HOLD_S = 3.0
INTERVAL_S = 0.005
DURATION_S = 5.0
ALTER_AT_S = 1.0  # after the writer starts; the holder starts at 0.5 s


def _project(root: Path, column: str) -> object:
    from expandcontract.config import load_config
    from expandcontract.phases import adopt, scaffold
    from expandcontract.phases.project import load_project

    adopt.init(root)
    with contextlib.redirect_stdout(io.StringIO()):
        made = scaffold.new(load_config(start=root), "add column", "bench-add-column", ("expand",))
    path = made[0].path
    path.write_text(
        path.read_text().replace(
            "    # TODO", f'    op.execute("ALTER TABLE bench ADD COLUMN {column} int")\n    # TODO', 1
        )
    )
    return load_project(load_config(start=root))


def _hold(url: str, ready: threading.Event) -> None:
    with psycopg.connect(url, application_name="bench-long-reader") as conn:
        conn.execute("SELECT count(*) FROM bench")
        ready.set()
        time.sleep(HOLD_S)
        conn.rollback()


def scenario(url: str, ddl: str | None, tmp: Path, hold: bool = True) -> tuple[list[float], float]:
    parent, child = mp.Pipe(duplex=False)
    proc = mp.Process(target=writer, args=(url, "bench", INTERVAL_S, DURATION_S, child))
    proc.start()
    ddl_time = 0.0
    time.sleep(0.5)
    holder: threading.Thread | None = None
    if ddl is not None:
        ready = threading.Event()
        holder = threading.Thread(target=_hold, args=(url, ready)) if hold else threading.Thread(target=ready.set)
        holder.start()
        ready.wait(5)
        time.sleep(ALTER_AT_S - 0.5)
        t0 = time.perf_counter()
        if ddl == "naive":
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("ALTER TABLE bench ADD COLUMN naive_col int")
        else:
            from expandcontract.phases.run import run_phase

            with psycopg.connect(url, autocommit=True) as conn:  # each scenario is its own project
                conn.execute("DROP TABLE IF EXISTS alembic_version; DROP SCHEMA IF EXISTS expandcontract CASCADE")

            column = {"runner": "runner_col", "retry-only": "retry_col"}.get(ddl, "free_col")
            project = _project(tmp / ddl, column)
            if ddl == "retry-only":
                project.config = dataclasses.replace(  # type: ignore[attr-defined]
                    project.config, ddl=dataclasses.replace(project.config.ddl, holder_wait_s=0.0)
                )  # type: ignore[attr-defined]
            run_phase(project, url, "expand", None, notify=lambda m: None)  # type: ignore[arg-type]
        ddl_time = time.perf_counter() - t0
        holder.join()
    lat = parent.recv()
    proc.join()
    return lat, ddl_time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ec-bench-ddl-"))
    server_dir = tmp / "server"
    try:
        server = args.database_url or embedded.start(server_dir, fast=True)
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS ec_bench_ddl WITH (FORCE)")
            conn.execute("CREATE DATABASE ec_bench_ddl")
        url = with_database(server, "ec_bench_ddl")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE bench (id bigserial PRIMARY KEY, v int)")
            conn.execute("INSERT INTO bench (v) SELECT g FROM generate_series(1, 10000) g")
        results = {}
        for name, ddl, hold in (
            ("idle", None, False),
            ("naive ALTER", "naive", True),
            ("runner (defaults)", "runner", True),
            ("runner, retries only", "retry-only", True),
            ("runner, no reader", "free", False),
        ):
            lat, ddl_s = scenario(url, ddl, tmp, hold)
            results[name] = (percentile(lat, 99) * 1000, max(lat) * 1000, ddl_s, len(lat))
        idle_p99, idle_max = results["idle"][0], results["idle"][1]
        print(
            f"writer: one INSERT every {INTERVAL_S * 1000:.0f} ms for {DURATION_S:.0f} s; a reader holds the "
            f"table {HOLD_S:.0f} s; lock_timeout 100 ms"
        )
        print(f"{'scenario':<24}{'writes':>8}{'p99 ms':>10}{'max ms':>10}{'p99/idle':>10}{'max/idle':>10}{'DDL s':>8}")
        for name, (p99, mx, ddl_s, n) in results.items():
            print(f"{name:<24}{n:>8}{p99:>10.1f}{mx:>10.1f}{p99 / idle_p99:>10.1f}{mx / idle_max:>10.1f}{ddl_s:>8.2f}")
        naive_max = results["naive ALTER"][1]
        for name in ("runner (defaults)", "runner, retries only"):
            mx = results[name][1]
            verdict = "met" if mx <= 100 + 50 else "NOT met"
            print(
                f"{name}: writer max {mx:.0f} ms vs naive {naive_max:.0f} ms ({naive_max / mx:.0f}x lower); "
                f"goal max <= lock_timeout + 50 ms = 150 ms: {verdict}"
            )
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS ec_bench_ddl WITH (FORCE)")
    finally:
        if not args.database_url:
            embedded.stop(server_dir)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
