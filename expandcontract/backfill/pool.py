"""N batch workers in one process (`run migrate --workers N`): threads, each with its own connection.

Each worker is an ordinary Engine: it claims key ranges through the same SKIP LOCKED range rows and
advisory locks as `backfill work` on other machines (ranges.py), so exactly-once holds the same way, and
it sizes its own batches against the time target. What they share is one throttle (each signal read once
per interval for all of them, throttle.Shared), one progress hook (serialised, rate summed), and a stop
flag: when one worker fails or the runner is interrupted, the others stop after their current batch.
Worker 1 waits for the whole backfill (ranges held by other machines included); the others leave when
nothing is left to claim.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from expandcontract.backfill.engine import Checker, Engine, Options, Result
from expandcontract.backfill.heartbeat import Event, ProgressHook
from expandcontract.backfill.spec import Plan
from expandcontract.config import BackfillConfig

RANGES_PER_WORKER = 4  # ranges are carved smaller with N workers, so none is left alone on a long tail
MIN_RANGE_ROWS = 10_000


def range_rows(config: BackfillConfig, workers: int, table_rows: float) -> int:
    """Keys per range: the configured size, or smaller so N workers get several ranges each."""
    if workers <= 1 or table_rows <= 0:
        return config.range_rows
    share = math.ceil(table_rows / (workers * RANGES_PER_WORKER))
    return max(1, min(config.range_rows, max(MIN_RANGE_ROWS, share)))


class _Merged:
    """The progress hook the workers share: one call at a time, rate = the sum of the workers' rates."""

    def __init__(self, hook: ProgressHook) -> None:
        self.hook = hook
        self.lock = threading.Lock()
        self.rates: dict[str, float] = {}

    def __call__(self, event: Event) -> None:
        with self.lock:
            worker = str(event.get("worker"))
            self.rates[worker] = float(event.get("rate") or 0.0)
            rate = sum(self.rates.values())
            est, done = event.get("rows_estimate"), event.get("rows_done") or 0
            eta = max(0.0, (est - done) / rate) if est is not None and rate > 0 else None
            self.hook({**event, "rate": rate, "eta_s": eta, "workers": len(self.rates)})

    def leave(self, worker: str) -> None:
        with self.lock:
            self.rates.pop(worker, None)


def run(
    url: str,
    plan: Plan,
    throttle: Checker,
    config: BackfillConfig,
    progress: ProgressHook,
    worker: str,
    workers: int,
    batch_guard: Callable[[psycopg.Connection[Any]], None] | None = None,
) -> Result:
    """Run `workers` engines until the backfill is done; the first error (or Ctrl-C) stops them all."""
    cfg = dataclasses.replace(config, range_rows=range_rows(config, workers, plan.table.rows))
    stop = threading.Event()
    merged = _Merged(progress)
    rates: dict[str, float] = {}
    results: dict[int, Result] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        wid = f"{worker}/{i}"
        opts = Options(
            config=cfg,
            worker=wid,
            progress=merged,
            wait_for_others=i == 1,
            stop=stop,
            rates=rates,
            batch_guard=batch_guard,  # the runner's lock check, in each batch's transaction of every worker
        )
        try:
            results[i] = Engine(url, plan, throttle, opts).run()
        except BaseException as exc:
            errors.append(exc)
            stop.set()
        finally:
            merged.leave(wid)
            rates.pop(wid, None)

    threads = [
        threading.Thread(target=work, args=(i,), name=f"backfill {plan.name} {i}") for i in range(1, workers + 1)
    ]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)  # short joins: Ctrl-C (and SIGTERM as KeyboardInterrupt) reach this thread
    except BaseException:
        stop.set()
        for t in threads:
            t.join()
        raise
    if errors:
        raise errors[0]
    first = results[1]
    every = list(results.values())
    times = [x for r in every for x in r.batch_times]
    return Result(plan.name, sum(r.rows_done for r in every), sum(r.batches for r in every), first.state, times)
