"""Throttle reason texts, as backfill/throttle.py and the engine write them, map to fixed label values."""

from __future__ import annotations

from expandcontract.backfill import throttle
from expandcontract.metrics.reasons import KINDS, reason_kinds


def test_each_signal_text_has_its_own_kind() -> None:
    texts = {
        "replica_lag": "replica walreceiver@10.0.0.2 is 12.5 s behind (max_replica_lag_s = 10)",
        "long_transaction": "transaction of pid 4242 open for 3700 s (max_transaction_age_s = 3600): vacuum ...",
        "wraparound_vacuum": "anti-wraparound vacuum (pid 17) is running on the table; it must not be slowed",
        "signal_unreadable": "signal replica_lag unreadable for 16 s (permission denied): waiting (fail closed)",
        "lock_waiters": "3 session(s) waited on the backfill's row locks",
        "paused": "paused; resume with `expandcontract backfill resume users.users`",
        "other": "the moon is full",
    }
    for kind, text in texts.items():
        assert reason_kinds(text) == {kind}, text
    assert reason_kinds(throttle._verdict(False, "health_check_sql")) == {"health_check_sql"}
    assert reason_kinds(throttle._verdict("replica busy", "health check app.health:ok")) == {"health_check"}
    joined = "; ".join([texts["replica_lag"], texts["long_transaction"]])  # Throttle.check joins them so
    assert reason_kinds(joined) == {"replica_lag", "long_transaction"}
    assert reason_kinds(None) == reason_kinds("") == frozenset()
    assert set(texts) | {"health_check_sql", "health_check"} == set(KINDS)
