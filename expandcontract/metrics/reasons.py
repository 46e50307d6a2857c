"""A throttle reason text (`backfills.throttled_reason`, several joined by "; ") -> fixed label values.

The text carries pids, seconds and replica names: fine for `backfill status`, far too many values for a
label. The kinds below are the signals of backfill/throttle.py and the engine's own waits. Throttle.check
joins several reasons with "; "; a piece that starts no known reason continues the one before it.
"""

from __future__ import annotations

# (kind, how its text starts or what it contains), checked in order
_KINDS: tuple[tuple[str, str], ...] = (
    ("paused", "paused"),
    ("replica_lag", "replica "),
    ("long_transaction", "transaction of pid "),
    ("wraparound_vacuum", "anti-wraparound vacuum"),
    ("health_check_sql", "health_check_sql"),
    ("health_check", "health check "),
    ("signal_unreadable", "signal "),
    ("lock_waiters", "waited on the backfill's row locks"),
)
KINDS: tuple[str, ...] = (*(k for k, _ in _KINDS), "other")


def kind_of(part: str) -> str:
    text = part.strip()
    for kind, marker in _KINDS:
        if kind == "lock_waiters":
            if marker in text:
                return kind
        elif text.startswith(marker):
            return kind
    return "other"


def reason_kinds(reason: str | None) -> frozenset[str]:
    """Every kind present in a (possibly joined) reason; empty when the backfill is not waiting."""
    if not reason or not reason.strip():
        return frozenset()
    kinds: list[str] = []
    for part in reason.split("; "):
        kind = kind_of(part)
        if kind == "other" and kinds:
            continue  # a "; " inside the previous reason's own text (the wraparound and pause texts have one)
        kinds.append(kind)
    return frozenset(kinds)
