"""LiveMetrics as the backfill observer and gate recorder, read back through a real exposition."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from expandcontract.backfill import observe
from expandcontract.gates.model import Decision, GateDecision, Reason, Severity, Target
from expandcontract.metrics.live import LiveMetrics
from tests.metrics.scrape import parse, value


def test_waits_are_counted_per_worker_and_once_per_wait() -> None:
    registry = CollectorRegistry()
    live = LiveMetrics(registry)
    remove = observe.add(live)
    try:
        hook = observe.tee(lambda event: None)
        lag = "replica r1@local is 12.0 s behind (max_replica_lag_s = 10)"
        for worker, reason in [("a", lag), ("b", lag), ("a", lag), ("b", None), ("a", None), ("a", lag)]:
            hook({"name": "t.fill", "worker": worker, "throttled_reason": reason})
        observe.batch("t.fill", 120, 0.08, 120)
    finally:
        remove()
    observe.batch("t.fill", 999, 9.0, 999)  # removed: not counted
    s = parse(generate_latest(registry).decode())
    assert value(s, "expandcontract_backfill_throttle_events_total", backfill="t.fill", reason="replica_lag") == 3
    assert value(s, "expandcontract_backfill_rows_processed_total", backfill="t.fill") == 120
    assert value(s, "expandcontract_backfill_batch_duration_seconds_bucket", backfill="t.fill", le="0.1") == 1
    assert value(s, "expandcontract_backfill_batch_duration_seconds_bucket", backfill="t.fill", le="0.075") == 0


def test_a_gate_answer_counts_once_per_target_with_its_own_verdict() -> None:
    registry = CollectorRegistry()
    live = LiveMetrics(registry)
    web, worker = Target("Deployment", "web", "shop"), Target("Rollout", "worker", "shop")
    blocked = Reason("OLD_PODS", "2 pods run code older than the expand", severity=Severity.BLOCK)
    decision = GateDecision(
        "contract",
        "users-email",
        (
            Decision("contract", "users-email", "rolling", web),
            Decision("contract", "users-email", "argo", worker, (blocked,)),
        ),
    )
    live.gate(decision, 0.2)
    live.gate(GateDecision("contract", "users-email", (Decision("contract", "users-email", "argo", worker),)), 0.1)
    s = parse(generate_latest(registry).decode())
    count = "expandcontract_gate_decisions_total"
    assert value(s, count, phase="contract", target="Deployment/shop/web", decision="allow") == 1
    assert value(s, count, phase="contract", target="Rollout/shop/worker", decision="blocked") == 1
    assert value(s, count, phase="contract", target="Rollout/shop/worker", decision="allow") == 1
    last = "expandcontract_gate_decision"
    assert value(s, last, phase="contract", target="Rollout/shop/worker", decision="allow") == 1
    assert value(s, last, phase="contract", target="Rollout/shop/worker", decision="blocked") == 0
    assert value(s, "expandcontract_gate_evaluation_seconds_count", phase="contract") == 2
