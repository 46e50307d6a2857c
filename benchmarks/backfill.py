"""Backfill benchmark: the engine against one whole-table UPDATE, side by side in one run, as ratios.

    python benchmarks/backfill.py [--rows 1000000] [--target-ms 100] [--writer-hz 200] [--keep]

On a fresh embedded PostgreSQL (fsync on, defaults otherwise; checkpoints pushed out of the measured
windows), on identical tables (bigint key, an int, a 40-byte text, the boolean to fill; autovacuum off on
them so the WAL figures compare like with like):

1. throughput: `UPDATE t SET flag = (v % 2 = 0)` vs the engine (`expandcontract.backfill.run`) vs the whole
   process of `expandcontract run migrate` on a scaffolded project (start-up, Alembic, the op, included);
   falls back to `alembic upgrade migrate@head` if `run migrate` fails, and says so;
2. per-batch time p50/p99/max of the engine against the target;
3. a concurrent writer PROCESS updating random rows at a fixed rate, latency measured from each operation's
   scheduled time (corrected for coordinated omission): idle, during the UPDATE, during the backfill;
4. WAL bytes of the UPDATE vs the engine (pg_current_wal_lsn before/after).

    python benchmarks/backfill.py --matrix 1000000,2000000,10000000 [--repeat 3] [--workers 1,2]

`--matrix`: the whole process of `expandcontract run migrate --workers N` against one UPDATE of an identical
table, per size: every run gets its own database cloned from one template (the same table, byte for
byte), the runs of one repetition go in rotated order, and the median ratio of the repetitions is
reported; each run's rows are checked (every `flag` right). Also, on the smallest size: a writer's p99
during `--workers 2` and during the UPDATE against idle, WAL of each against the UPDATE, and the no-op
`run migrate` start-up time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from expandcontract.backfill import api  # noqa: E402
from expandcontract.backfill.spec import Spec  # noqa: E402
from expandcontract.config import BackfillConfig  # noqa: E402
from expandcontract.db import embedded  # noqa: E402
from expandcontract.db.connect import connect  # noqa: E402
from expandcontract.db.url import with_database  # noqa: E402

SET = "(v % 2 = 0)"
MAX_BATCH = [BackfillConfig().max_batch_size]  # --max-batch-size


def make_table(url: str, name: str, rows: int) -> None:
    with connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(
            f"CREATE TABLE {name} (id bigint PRIMARY KEY, v int NOT NULL, payload text NOT NULL, flag boolean) "
            "WITH (autovacuum_enabled = off)"
        )
        conn.execute(
            f"INSERT INTO {name} SELECT g, g, md5(g::text) || 'abcdefgh', NULL FROM generate_series(1, {rows}) g"
        )
        conn.execute(f"VACUUM (ANALYZE, FREEZE) {name}")


def wal(conn: Any) -> int:
    return int(conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint").fetchone()[0])


def checkpoint(url: str) -> None:
    with connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def single_update(url: str, table: str) -> tuple[float, int]:
    checkpoint(url)
    with connect(url, autocommit=True) as conn:
        w0 = wal(conn)
        t0 = time.perf_counter()
        conn.execute(f"UPDATE {table} SET flag = {SET}")
        elapsed = time.perf_counter() - t0
        return elapsed, wal(conn) - w0


def engine(url: str, table: str, target_ms: int) -> tuple[float, int, list[float], int]:
    checkpoint(url)
    cfg = BackfillConfig(batch_time_ms=target_ms, max_batch_size=MAX_BATCH[0])
    with connect(url, autocommit=True) as conn:
        w0 = wal(conn)
        t0 = time.perf_counter()
        name = f"bench.{table}.{time.time_ns()}"  # tables are recreated per pair: a new backfill each time
        result = api.run(url, Spec(name, table, {"flag": SET}), cfg, lambda e: None)
        elapsed = time.perf_counter() - t0
        return elapsed, wal(conn) - w0, result.batch_times, result.rows_done


def whole_process(url: str, table: str, workdir: Path) -> tuple[float, str, str]:
    """`expandcontract run migrate` on a scaffolded project whose migrate revision backfills `table`."""
    from expandcontract.config import load_config
    from expandcontract.phases import adopt, scaffold

    adopt.init(workdir)
    made = {r.phase: r.path for r in scaffold.new(load_config(start=workdir), "bench", "bench")}
    text = made["migrate"].read_text()
    call = (
        "    import expandcontract.backfill.op  # noqa: F401\n"
        f'    op.backfill("{table}", values={{"flag": "{SET}"}}, name="bench.{table}")\n'
    )
    start = text.index("def upgrade() -> None:\n") + len("def upgrade() -> None:\n")
    made["migrate"].write_text(text[:start] + call + "\n\n" + text[text.index("def downgrade()") :])
    env = {**os.environ, "DATABASE_URL": url}
    checkpoint(url)
    exe = Path(sys.executable).parent
    t0 = time.perf_counter()
    r = subprocess.run(
        [str(exe / "expandcontract"), "run", "migrate"], cwd=workdir, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - t0
    if r.returncode == 0:
        # the same command again with nothing left to do: the fixed start-up cost in that figure
        t0 = time.perf_counter()
        subprocess.run([str(exe / "expandcontract"), "run", "migrate"], cwd=workdir, env=env, capture_output=True)
        idle = time.perf_counter() - t0
        applied = [ln.strip() for ln in (r.stdout + r.stderr).splitlines() if ln.startswith("applied")]
        return (
            elapsed,
            "expandcontract run migrate",
            f"{'; '.join(applied)}; the same command with nothing to do took {idle:.2f} s",
        )
    note = f"`expandcontract run migrate` exited {r.returncode}: {r.stderr.strip().splitlines()[-1:]}"
    with connect(url, autocommit=True) as conn:  # start over on a fresh table for the fallback
        conn.execute("DELETE FROM expandcontract.backfills WHERE name = %s", (f"bench.{table}",))
    t0 = time.perf_counter()
    r = subprocess.run(
        [str(exe / "alembic"), "upgrade", "migrate@head"], cwd=workdir, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"alembic upgrade failed: {r.stderr}")
    return elapsed, "alembic upgrade migrate@head", note


# -- the writer process ----------------------------------------------------------------------------------
def writer_main(url: str, table: str, rows: int, hz: float, out: str) -> None:
    """Update one random row every 1/hz s; latency from the SCHEDULED time (coordinated omission)."""
    interval = 1.0 / hz
    conn = connect(url, autocommit=True)
    samples: list[tuple[float, float]] = []
    stop = Path(out + ".stop")
    start = time.time()
    i = 0
    while not stop.exists():
        scheduled = start + i * interval
        now = time.time()
        if now < scheduled:
            time.sleep(scheduled - now)
        conn.execute(f"UPDATE {table} SET v = v WHERE id = %s", (random.randint(1, rows),))
        samples.append((scheduled, time.time() - scheduled))
        i += 1
    Path(out).write_text(json.dumps(samples))


def with_writer(url: str, table: str, rows: int, hz: float, action: Any) -> tuple[list[float], float]:
    out = tempfile.mktemp(prefix="ec-writer-")
    proc = subprocess.Popen(
        [sys.executable, __file__, "--writer", url, table, str(rows), str(hz), out], stderr=subprocess.DEVNULL
    )
    time.sleep(1.5)  # warm up
    t0 = time.time()
    action()
    t1 = time.time()
    time.sleep(0.5)
    Path(out + ".stop").touch()
    proc.wait(timeout=600)
    samples = json.loads(Path(out).read_text())
    os.unlink(out)
    os.unlink(out + ".stop")
    return [lat for sched, lat in samples if t0 <= sched <= t1], t1 - t0


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


# -- the --matrix mode ------------------------------------------------------------------------------------
def _project(workdir: Path) -> Path:
    """A scaffolded project whose migrate revision backfills table `t` (the expand is a no-op)."""
    import contextlib
    import io

    from expandcontract.config import load_config
    from expandcontract.phases import adopt, scaffold

    adopt.init(workdir)
    with contextlib.redirect_stdout(io.StringIO()):  # Alembic's "Generating ..." lines: not the results
        made = {r.phase: r.path for r in scaffold.new(load_config(start=workdir), "bench", "bench")}
    text = made["migrate"].read_text()
    call = f'    op.backfill("t", values={{"flag": "{SET}"}}, name="bench.t")\n'
    start = text.index("def upgrade() -> None:\n") + len("def upgrade() -> None:\n")
    made["migrate"].write_text(text[:start] + call + "\n\n" + text[text.index("def downgrade()") :])
    return workdir


def _clone(server: str, template: str, name: str) -> str:
    """A copy of the template's table; ANALYZEd (not timed) like any production table: a clone has the
    template's statistics but no analyze time, and the backfill would otherwise analyze it first."""
    with connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    url = with_database(server, name)
    with connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE t")
    return url


def _drop(server: str, name: str) -> None:
    with connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")


def _right(url: str, rows: int) -> None:
    with connect(url) as conn:
        wrong = conn.execute(f"SELECT count(*) FROM t WHERE flag IS DISTINCT FROM {SET}").fetchone()[0]
        total = conn.execute("SELECT count(*) FROM t").fetchone()[0]
    if wrong or total != rows:
        raise SystemExit(f"{url}: {wrong} rows wrong of {total}")


def _cli(url: str, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "expandcontract"
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([str(exe), *args], cwd=workdir, env=env, capture_output=True, text=True)


def _timed_run(server: str, template: str, name: str, workdir: Path, workers: int | None) -> tuple[float, int]:
    """(seconds, WAL bytes) of one UPDATE (workers None) or one whole `run migrate --workers N`."""
    url = _clone(server, template, name)
    try:
        if workers is not None and _cli(url, workdir, "run", "expand").returncode != 0:
            raise SystemExit("run expand failed")
        checkpoint(server)
        with connect(server, autocommit=True) as conn:
            w0 = wal(conn)
        t0 = time.perf_counter()
        if workers is None:
            with connect(url, autocommit=True) as conn:
                conn.execute(f"UPDATE t SET flag = {SET}")
        else:
            r = _cli(url, workdir, "run", "migrate", "--workers", str(workers))
            if r.returncode != 0:
                raise SystemExit(f"run migrate --workers {workers} exited {r.returncode}: {r.stderr[-500:]}")
        elapsed = time.perf_counter() - t0
        with connect(server, autocommit=True) as conn:
            w1 = wal(conn)
        rows = int(template.rsplit("_", 1)[1])
        _right(url, rows)
        return elapsed, w1 - w0
    finally:
        _drop(server, name)


def matrix(server: str, sizes: list[int], workers: list[int], repeat: int, base: Path, writer_hz: float) -> None:
    workdir = _project(base / "project")
    out: dict[str, Any] = {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg(), "sizes": {}}
    for rows in sizes:
        template = f"tmpl_{rows}"
        with connect(server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {template}")
            conn.execute(f"CREATE DATABASE {template}")
        make_table(with_database(server, template), "t", rows)
        kinds: list[int | None] = [None, *workers]
        runs: dict[str, list[tuple[float, int]]] = {("update" if k is None else f"w{k}"): [] for k in kinds}
        for i in range(repeat):
            order = kinds[i % len(kinds) :] + kinds[: i % len(kinds)]  # rotate who goes first
            for k in order:
                key = "update" if k is None else f"w{k}"
                runs[key].append(_timed_run(server, template, f"run_{key}", workdir, k))
                print(f"{rows:,} rows, rep {i + 1}, {key}: {runs[key][-1][0]:.2f} s", file=sys.stderr)
        upd = runs["update"]
        size: dict[str, Any] = {"update_s": [round(t, 3) for t, _ in upd]}
        for k in workers:
            mine = runs[f"w{k}"]
            ratios = sorted(u[0] / m[0] for u, m in zip(upd, mine, strict=True))
            size[f"workers_{k}"] = {
                "s": [round(t, 3) for t, _ in mine],
                "ratio_vs_update_median": round(ratios[len(ratios) // 2], 3),
                "ratios": [round(r, 3) for r in ratios],
                "wal_vs_update": round(sum(w for _, w in mine) / max(1, sum(w for _, w in upd)), 4),
            }
        out["sizes"][rows] = size
        if rows == min(sizes):
            out["writer"] = _writer_figures(server, template, workdir, rows, writer_hz)
        _drop(server, template)
    out["load_avg_at_end"] = os.getloadavg()
    print(json.dumps(out, indent=2))


def _writer_figures(server: str, template: str, workdir: Path, rows: int, hz: float) -> dict[str, Any]:
    res: dict[str, Any] = {}
    lat: dict[str, list[float]] = {}
    for key, workers in (("idle", 0), ("update", None), ("workers_2", 2)):
        url = _clone(server, template, f"wr_{key}")
        try:
            if workers:
                _cli(url, workdir, "run", "expand")

            def act(url: str = url, workers: int | None = workers) -> None:
                if workers == 0:
                    time.sleep(5)
                elif workers is None:
                    with connect(url, autocommit=True) as conn:
                        conn.execute(f"UPDATE t SET flag = {SET}")
                else:
                    _cli(url, workdir, "run", "migrate", "--workers", str(workers))

            lat[key], _ = with_writer(url, "t", rows, hz, act)
            if key == "workers_2":
                t0 = time.perf_counter()
                _cli(url, workdir, "run", "migrate")  # nothing left to do: the fixed start-up cost
                res["noop_run_migrate_s"] = round(time.perf_counter() - t0, 3)
        finally:
            _drop(server, f"wr_{key}")
    idle = pct(lat["idle"], 99)
    for key in ("update", "workers_2"):
        res[f"writer_p99_ms_{key}"] = round(pct(lat[key], 99) * 1000, 2)
        res[f"writer_p99_over_idle_{key}"] = round(pct(lat[key], 99) / idle, 2)
    res["writer_p99_ms_idle"] = round(idle * 1000, 2)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--target-ms", type=int, default=100)
    ap.add_argument("--writer-hz", type=float, default=200.0)
    ap.add_argument("--idle-s", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=3, help="UPDATE/engine pairs; the median ratio is reported")
    ap.add_argument(
        "--extra-writer-target-ms", type=int, nargs="*", default=[50], help="also measure the writer at these targets"
    )
    ap.add_argument("--max-batch-size", type=int, default=BackfillConfig().max_batch_size)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--matrix", default=None, help="sizes, e.g. 1000000,10000000: the whole-process table")
    ap.add_argument("--workers", default="1,2", help="with --matrix: worker counts to compare")
    args = ap.parse_args()
    rows, target = args.rows, args.target_ms
    MAX_BATCH[0] = args.max_batch_size

    base = Path(tempfile.mkdtemp(prefix="ec-bench-backfill-"))
    base.chmod(0o755)
    server = embedded.start(base / "pg", fast=False)
    try:
        with connect(server, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET max_wal_size = '8GB'")
            conn.execute("ALTER SYSTEM SET checkpoint_timeout = '1h'")
            conn.execute("SELECT pg_reload_conf()")
            conn.execute("CREATE DATABASE bench")
            version = conn.execute("SHOW server_version").fetchone()[0]
        url = with_database(server, "bench")
        if args.matrix:
            sizes = [int(x) for x in args.matrix.split(",")]
            matrix(server, sizes, [int(x) for x in args.workers.split(",")], args.repeat, base, args.writer_hz)
            return
        print(
            f"PostgreSQL {version}, {rows:,} rows per table, target {target} ms, cpus {os.cpu_count()}", file=sys.stderr
        )
        pairs: list[dict[str, Any]] = []
        batches: list[float] = []
        for i in range(args.repeat):  # fresh identical tables per pair; alternate which goes first
            make_table(url, "t_update", rows)
            make_table(url, "t_engine", rows)
            order = ("update", "engine") if i % 2 == 0 else ("engine", "update")
            pair: dict[str, Any] = {}
            for what in order:
                if what == "update":
                    pair["update_s"], pair["update_wal"] = single_update(url, "t_update")
                else:
                    pair["engine_s"], pair["engine_wal"], times, done = engine(url, "t_engine", target)
                    assert done == rows, done
                    batches += times
            pair["ratio"] = pair["update_s"] / pair["engine_s"]
            pairs.append(pair)
            print(
                f"pair {i + 1}: UPDATE {pair['update_s']:.2f} s, engine {pair['engine_s']:.2f} s, "
                f"ratio {pair['ratio']:.3f}",
                file=sys.stderr,
            )
        mid = sorted(pairs, key=lambda p: p["ratio"])[len(pairs) // 2]
        upd_s, upd_wal, eng_s, eng_wal = mid["update_s"], mid["update_wal"], mid["engine_s"], mid["engine_wal"]
        for t in ("t_process", "t_update_w", "t_engine_w", "t_idle_w"):
            make_table(url, t, rows)
        proc_s, proc_how, proc_note = whole_process(url, "t_process", base / "project")

        idle, _idle_window = with_writer(url, "t_idle_w", rows, args.writer_hz, lambda: time.sleep(args.idle_s))
        during_update, _ = with_writer(
            url, "t_update_w", rows, args.writer_hz, lambda: single_update(url, "t_update_w")
        )
        during_engine, _ = with_writer(
            url, "t_engine_w", rows, args.writer_hz, lambda: engine(url, "t_engine_w", target)
        )

        # control: the same writer on ANOTHER table while the backfill runs: no lock of ours can reach it,
        # so this is what CPU and I/O contention alone do to its latency on this machine
        make_table(url, "t_engine_c", rows)
        control, _ = with_writer(url, "t_idle_w", rows, args.writer_hz, lambda: engine(url, "t_engine_c", target))

        # the knob behind the writer's p99: the share of the table one batch holds locked
        extra_writer: dict[str, float] = {}
        for t_ms in args.extra_writer_target_ms:
            make_table(url, f"t_engine_w{t_ms}", rows)
            lat, _ = with_writer(
                url, f"t_engine_w{t_ms}", rows, args.writer_hz, lambda t=t_ms: engine(url, f"t_engine_w{t}", t)
            )
            extra_writer[f"writer_engine_p99_ms_at_target_{t_ms}ms"] = pct(lat, 99) * 1000
            extra_writer[f"writer_engine_p99_over_idle_at_target_{t_ms}ms"] = pct(lat, 99) / pct(idle, 99)
            extra_writer[f"writer_engine_max_ms_at_target_{t_ms}ms"] = max(lat) * 1000

        res = {
            "rows": rows,
            "target_ms": target,
            "max_batch_size": args.max_batch_size,
            "single_update_s": upd_s,
            "single_update_rows_per_s": rows / upd_s,
            "engine_s": eng_s,
            "engine_rows_per_s": rows / eng_s,
            "engine_throughput_ratio": upd_s / eng_s,
            "engine_throughput_ratios_all_pairs": [round(p["ratio"], 3) for p in pairs],
            "whole_process_s": proc_s,
            "whole_process_how": proc_how,
            "whole_process_note": proc_note,
            "whole_process_ratio": upd_s / proc_s,
            "batches": len(batches),
            "batch_p50_ms": pct(batches, 50) * 1000,
            "batch_p99_ms": pct(batches, 99) * 1000,
            "batch_max_ms": max(batches) * 1000,
            "batch_p99_over_target": pct(batches, 99) * 1000 / target,
            "writer_hz": args.writer_hz,
            "writer_idle_p99_ms": pct(idle, 99) * 1000,
            "writer_idle_max_ms": max(idle) * 1000,
            "writer_update_p99_ms": pct(during_update, 99) * 1000,
            "writer_update_max_ms": max(during_update) * 1000,
            "writer_update_p99_over_idle": pct(during_update, 99) / pct(idle, 99),
            "writer_engine_p99_ms": pct(during_engine, 99) * 1000,
            "writer_engine_max_ms": max(during_engine) * 1000,
            "writer_engine_p99_over_idle": pct(during_engine, 99) / pct(idle, 99),
            "writer_engine_max_minus_idle_max_ms": (max(during_engine) - max(idle)) * 1000,
            "writer_control_other_table_p99_ms": pct(control, 99) * 1000,
            "writer_control_other_table_max_ms": max(control) * 1000,
            **extra_writer,
            "writer_samples": {"idle": len(idle), "update": len(during_update), "engine": len(during_engine)},
            "wal_update_bytes": upd_wal,
            "wal_engine_bytes": eng_wal,
            "wal_ratio": eng_wal / upd_wal,
            "wal_ratios_all_pairs": [round(p["engine_wal"] / p["update_wal"], 4) for p in pairs],
        }
        print(json.dumps(res, indent=2))
        print(
            f"\nthroughput ratio (engine / one UPDATE), median of {len(pairs)} pairs: "
            f"{res['engine_throughput_ratio']:.2f} {res['engine_throughput_ratios_all_pairs']}  "
            f"(goal >= 0.85, stretch 0.95)\n"
            f"whole process ({proc_how}) ratio:        {res['whole_process_ratio']:.2f}\n"
            f"batch p99: {res['batch_p99_ms']:.0f} ms = {res['batch_p99_over_target']:.2f}x target (goal <= 1.5x)\n"
            f"writer p99: idle {res['writer_idle_p99_ms']:.1f} ms, during UPDATE {res['writer_update_p99_ms']:.0f} ms "
            f"({res['writer_update_p99_over_idle']:.0f}x), during backfill {res['writer_engine_p99_ms']:.1f} ms "
            f"({res['writer_engine_p99_over_idle']:.2f}x, goal <= 5x)\n"
            f"writer max: idle {res['writer_idle_max_ms']:.1f} ms, "
            f"during backfill {res['writer_engine_max_ms']:.1f} ms "
            f"(goal <= idle max + {2 * target} ms = {res['writer_idle_max_ms'] + 2 * target:.0f} ms)\n"
            f"writer on another table during the backfill (contention only): p99 "
            f"{res['writer_control_other_table_p99_ms']:.1f} ms, "
            f"max {res['writer_control_other_table_max_ms']:.1f} ms\n"
            f"WAL: UPDATE {upd_wal:,} B, backfill {eng_wal:,} B, ratio {res['wal_ratio']:.4f} (goal within 2%)"
            + "".join(
                f"\nwriter p99 with a {t} ms target: {extra_writer[f'writer_engine_p99_ms_at_target_{t}ms']:.1f} ms "
                f"({extra_writer[f'writer_engine_p99_over_idle_at_target_{t}ms']:.2f}x idle)"
                for t in args.extra_writer_target_ms
            ),
            file=sys.stderr,
        )
    finally:
        embedded.stop(base / "pg")
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--writer":
        writer_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6])
    else:
        main()
