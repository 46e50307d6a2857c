"""A writer process for the benchmarks: single-row writes on a fixed schedule, with latency measured
from each write's *intended* start (correcting for coordinated omission: a stalled write delays the
ones scheduled behind it, and they count as late)."""

from __future__ import annotations

import time
from multiprocessing.connection import Connection
from typing import Any

import psycopg


def writer(url: str, table: str, interval_s: float, duration_s: float, out: Connection[Any, Any]) -> None:
    lat: list[float] = []
    with psycopg.connect(url, autocommit=True, application_name="bench-writer") as conn:
        conn.execute("SET lock_timeout = 0")
        start = time.perf_counter()
        n = 0
        while True:
            intended = start + n * interval_s
            now = time.perf_counter()
            if intended > start + duration_s:
                break
            if now < intended:
                time.sleep(intended - now)
            conn.execute(f"INSERT INTO {table} (v) VALUES (%s)", (n,))
            lat.append(time.perf_counter() - intended)
            n += 1
    out.send(lat)
    out.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100.0 * (len(s) - 1))))
    return s[k]
