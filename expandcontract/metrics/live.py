"""In-process events as counters and histograms: the batches this process commits and the gate answers
it gives. `LiveMetrics` is a backfill observer (backfill/observe.py) and a gate-decision recorder."""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from expandcontract.metrics.catalog import LIVE
from expandcontract.metrics.reasons import reason_kinds

# a batch aims at batch_time_ms (100 ms by default); the statement_timeout is a few times that
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
ROWS_BUCKETS = (1, 10, 50, 100, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000)
GATE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DECISIONS = ("allow", "blocked", "unknown", "deny")


def _short(name: str) -> str:
    """prometheus_client appends `_total` to counters itself."""
    return name.removesuffix("_total")


def target_label(target: Any) -> str:
    """`Kind/namespace/name` (the form `gate --target` takes), or `-` when the answer names no target."""
    if target is None:
        return "-"
    return f"{target.kind}/{target.namespace}/{target.name}"


class LiveMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        def help_of(name: str) -> tuple[str, str, list[str]]:
            m = LIVE[name]
            return _short(name), m.help, list(m.labels)

        self.batch_seconds = Histogram(
            *help_of("expandcontract_backfill_batch_duration_seconds"), registry=registry, buckets=DURATION_BUCKETS
        )
        self.batch_rows = Histogram(
            *help_of("expandcontract_backfill_batch_rows"), registry=registry, buckets=ROWS_BUCKETS
        )
        self.rows = Counter(*help_of("expandcontract_backfill_rows_processed_total"), registry=registry)
        self.throttle_events = Counter(*help_of("expandcontract_backfill_throttle_events_total"), registry=registry)
        self.gate_answers = Counter(*help_of("expandcontract_gate_decisions_total"), registry=registry)
        self.gate_last = Gauge(*help_of("expandcontract_gate_decision"), registry=registry)
        self.gate_seconds = Histogram(
            *help_of("expandcontract_gate_evaluation_seconds"), registry=registry, buckets=GATE_BUCKETS
        )
        self._lock = threading.Lock()
        self._waiting: dict[tuple[str, str], frozenset[str]] = {}

    # -- backfill observer ---------------------------------------------------------------------------
    def batch(self, name: str, rows: int, seconds: float, size: int) -> None:
        self.batch_seconds.labels(name).observe(seconds)
        self.batch_rows.labels(name).observe(rows)
        self.rows.labels(name).inc(rows)

    def progress(self, event: dict[str, Any]) -> None:
        name = str(event.get("name") or "")
        if not name:
            return
        kinds = reason_kinds(event.get("throttled_reason"))
        key = (name, str(event.get("worker") or ""))  # each worker of the process waits on its own
        with self._lock:
            new = kinds - self._waiting.get(key, frozenset())
            self._waiting[key] = kinds
        for kind in sorted(new):
            self.throttle_events.labels(name, kind).inc()

    # -- gate answers ----------------------------------------------------------------------------------
    def gate(self, decision: Any, seconds: float | None = None) -> None:
        """Count one answer (a GateDecision: one part per target)."""
        phase = str(decision.phase)
        parts = tuple(getattr(decision, "parts", ()) or ())
        answers = [(target_label(p.target), str(p.decision)) for p in parts] or [("-", str(decision.decision))]
        for target, verdict in answers:
            self.gate_answers.labels(phase, target, verdict).inc()
            for d in DECISIONS:
                self.gate_last.labels(phase, target, d).set(1.0 if d == verdict else 0.0)
        if seconds is not None:
            self.gate_seconds.labels(phase).observe(seconds)
