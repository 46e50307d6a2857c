"""Backfill and phase-run state read from the database at scrape time (a custom Collector).

Every serve instance (or `run --metrics-port`) pointed at the database shows every backfill, whichever
process or machine runs it: the checkpoint tables and the audit log are the truth, as for
`backfill status`. Backfills that finished or were cancelled more than `KEEP_FINISHED` ago drop out, so
the series stay few. A scrape that cannot read the database reports `expandcontract_database_up 0` and
nothing else (never an error page: Prometheus then keeps the target up and the alert can say why).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from expandcontract.backfill.locks import BACKFILL_CLASS
from expandcontract.metrics.catalog import STATE
from expandcontract.metrics.reasons import KINDS, reason_kinds
from expandcontract.names import SCHEMA

log = logging.getLogger("expandcontract.metrics")

KEEP_FINISHED = "24 hours"
STATUSES = ("pending", "running", "paused", "done", "failed", "cancelled")
SCRAPE_TIMEOUT_MS = 5000

_PRESENT = f"SELECT to_regclass('{SCHEMA}.backfills') IS NOT NULL, to_regclass('{SCHEMA}.runs') IS NOT NULL"

BACKFILLS = f"""
SELECT b.name, b.status, b.throttled_reason, b.rows_estimate, b.batch_size,
       COALESCE(r.rows_done, b.rows_done), COALESCE(r.ranges, 0), COALESCE(r.ranges_done, 0),
       extract(epoch FROM b.updated_at)::float8,
       (SELECT count(DISTINCT l.pid) FROM pg_locks l
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %(cls)s AND l.objsubid = 2
           AND l.objid::bigint = (hashtext(b.name)::bigint + 4294967296) %% 4294967296
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
FROM {SCHEMA}.backfills b
LEFT JOIN LATERAL (
    SELECT sum(rows_done) AS rows_done, count(*) AS ranges, count(*) FILTER (WHERE done) AS ranges_done
    FROM {SCHEMA}.backfill_ranges WHERE name = b.name
) r ON true
WHERE b.status NOT IN ('done', 'cancelled') OR b.updated_at > now() - interval '{KEEP_FINISHED}'
ORDER BY b.name
"""

RUNS = f"""
SELECT command, COALESCE(phase, ''), outcome, count(*), extract(epoch FROM max(started_at))::float8
FROM {SCHEMA}.runs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""


def _family(name: str) -> GaugeMetricFamily:
    m = STATE[name]
    return GaugeMetricFamily(name, m.help, labels=list(m.labels))


class StateCollector(Collector):
    """Reads the checkpoint tables and the audit log of the database at `url` on every scrape."""

    def __init__(self, url: str) -> None:
        self.url = url

    def describe(self) -> list[Any]:
        return []  # no describe-time scrape: registering must not touch the database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = _family("expandcontract_database_up")
        try:
            backfills, runs = self._read()
        except Exception as exc:  # unreachable, timed out, no permission: report, never raise
            log.warning("metrics: cannot read the database state: %s", str(exc).splitlines()[0] if str(exc) else exc)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from _backfill_families(backfills)
        yield from _run_families(runs)

    def _read(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        from expandcontract.db.connect import connect

        with connect(self.url, autocommit=True, connect_timeout=5, application_name="expandcontract metrics") as conn:
            conn.execute(f"SET statement_timeout = {SCRAPE_TIMEOUT_MS}")
            row = conn.execute(_PRESENT).fetchone()
            has_backfills, has_runs = bool(row and row[0]), bool(row and row[1])
            backfills = conn.execute(BACKFILLS, {"cls": BACKFILL_CLASS}).fetchall() if has_backfills else []
            runs = conn.execute(RUNS).fetchall() if has_runs else []
        return backfills, runs


def _backfill_families(rows: list[tuple[Any, ...]]) -> Iterator[GaugeMetricFamily]:
    names = (
        "expandcontract_backfill_rows_done",
        "expandcontract_backfill_rows_estimated",
        "expandcontract_backfill_batch_size_rows",
        "expandcontract_backfill_status",
        "expandcontract_backfill_throttled",
        "expandcontract_backfill_workers",
        "expandcontract_backfill_ranges",
        "expandcontract_backfill_last_update_timestamp_seconds",
    )
    fam = {n: _family(n) for n in names}
    for name, status, reason, estimate, batch_size, done, ranges, ranges_done, updated, workers in rows:
        fam["expandcontract_backfill_rows_done"].add_metric([name], float(done or 0))
        if estimate is not None:
            fam["expandcontract_backfill_rows_estimated"].add_metric([name], float(estimate))
        if batch_size is not None:
            fam["expandcontract_backfill_batch_size_rows"].add_metric([name], float(batch_size))
        for s in STATUSES:
            fam["expandcontract_backfill_status"].add_metric([name, s], 1.0 if s == status else 0.0)
        present = reason_kinds(reason) if status in ("running", "paused", "pending") else frozenset()
        for k in KINDS:
            fam["expandcontract_backfill_throttled"].add_metric([name, k], 1.0 if k in present else 0.0)
        fam["expandcontract_backfill_workers"].add_metric([name], float(workers or 0))
        fam["expandcontract_backfill_ranges"].add_metric([name, "open"], float(int(ranges) - int(ranges_done)))
        fam["expandcontract_backfill_ranges"].add_metric([name, "done"], float(ranges_done))
        fam["expandcontract_backfill_last_update_timestamp_seconds"].add_metric([name], float(updated))
    yield from fam.values()


def _run_families(rows: list[tuple[Any, ...]]) -> Iterator[GaugeMetricFamily]:
    count = _family("expandcontract_phase_runs")
    last = _family("expandcontract_phase_last_run_timestamp_seconds")
    for command, phase, outcome, n, started in rows:
        count.add_metric([command, phase, outcome], float(n))
        last.add_metric([command, phase, outcome], float(started))
    yield count
    yield last
