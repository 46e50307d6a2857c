"""Every metric expandcontract exports: name -> (type, labels, help). One place, so docs, dashboard and
tests agree. Gauges carry values read from the database at scrape time; counters and histograms count
events of the process that serves them."""

from __future__ import annotations

from typing import NamedTuple


class Metric(NamedTuple):
    kind: str  # gauge | counter | histogram
    labels: tuple[str, ...]
    help: str


PREFIX = "expandcontract_"

# read from the database at scrape time (state.py): serve and run --metrics-port alike
STATE: dict[str, Metric] = {
    "expandcontract_database_up": Metric("gauge", (), "1 if the last scrape could read the database, else 0."),
    "expandcontract_backfill_rows_done": Metric(
        "gauge", ("backfill",), "Rows the backfill has updated (sum over its key ranges' checkpoints)."
    ),
    "expandcontract_backfill_rows_estimated": Metric(
        "gauge", ("backfill",), "Rows the backfill is expected to update (planner estimate taken at registration)."
    ),
    "expandcontract_backfill_batch_size_rows": Metric(
        "gauge", ("backfill",), "The batch size the backfill last reported (rows per batch)."
    ),
    "expandcontract_backfill_status": Metric(
        "gauge", ("backfill", "status"), "1 for the backfill's current status, 0 for the others."
    ),
    "expandcontract_backfill_throttled": Metric(
        "gauge", ("backfill", "reason"), "1 while the backfill waits for this kind of reason, else 0."
    ),
    "expandcontract_backfill_workers": Metric(
        "gauge", ("backfill",), "Live processes working on the backfill (holders of its advisory lock)."
    ),
    "expandcontract_backfill_ranges": Metric(
        "gauge", ("backfill", "state"), "Key ranges carved so far, by state (open or done)."
    ),
    "expandcontract_backfill_last_update_timestamp_seconds": Metric(
        "gauge", ("backfill",), "When a worker last wrote the backfill's row (Unix time)."
    ),
    "expandcontract_phase_runs": Metric(
        "gauge", ("command", "phase", "outcome"), "Runs in the audit log by command, phase and outcome."
    ),
    "expandcontract_phase_last_run_timestamp_seconds": Metric(
        "gauge", ("command", "phase", "outcome"), "When the newest such run started (Unix time)."
    ),
}

# events of this process (live.py)
LIVE: dict[str, Metric] = {
    "expandcontract_backfill_batch_duration_seconds": Metric(
        "histogram", ("backfill",), "Time of one committed batch (probe, UPDATE, checkpoint, commit)."
    ),
    "expandcontract_backfill_batch_rows": Metric("histogram", ("backfill",), "Rows updated by one committed batch."),
    "expandcontract_backfill_rows_processed_total": Metric(
        "counter", ("backfill",), "Rows updated by this process's batches."
    ),
    "expandcontract_backfill_throttle_events_total": Metric(
        "counter", ("backfill", "reason"), "Times this process started waiting for this kind of reason."
    ),
    "expandcontract_gate_decisions_total": Metric(
        "counter", ("phase", "target", "decision"), "Gate answers given, per target and phase."
    ),
    "expandcontract_gate_decision": Metric(
        "gauge", ("phase", "target", "decision"), "1 for the last answer per phase and target, 0 for the others."
    ),
    "expandcontract_gate_evaluation_seconds": Metric(
        "histogram", ("phase",), "Time to read the rollout state and decide."
    ),
}

ALL: dict[str, Metric] = {**STATE, **LIVE}


def series_names(name: str, metric: Metric) -> tuple[str, ...]:
    """The sample names a metric produces in the text format (histograms: _bucket, _sum, _count)."""
    if metric.kind == "histogram":
        return (f"{name}_bucket", f"{name}_sum", f"{name}_count")
    return (name,)


def exported_series() -> frozenset[str]:
    return frozenset(s for n, m in ALL.items() for s in series_names(n, m))
