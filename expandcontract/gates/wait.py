"""`--wait`: ask again until the answer is final (allow or deny) or the time is up.

Polling a full decision is simple and robust (the API server's watch cache makes a LIST cheap, and a
decision over 2,000 pods takes well under a second), and it re-checks every condition each time, so a
pod that appears mid-wait is never missed. On timeout the last decision stands (blocked or unknown).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from expandcontract.errors import UsageError


class _Answer(Protocol):
    @property
    def final(self) -> bool: ...

    def summary(self) -> str: ...


D = TypeVar("D", bound=_Answer)

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m(?!s))?\s*(?:(\d+(?:\.\d+)?)s)?"
    r"\s*(?:(\d+(?:\.\d+)?)ms)?\s*$"
)


def parse_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `1h30m`, `500ms` -> seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    m = _DURATION.match(text)
    if not text or not m or not any(m.groups()):
        raise UsageError(f"invalid duration {text!r}; use e.g. 90s, 15m or 1h30m")
    h, mi, s, ms = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + s + ms / 1000


def wait_for(
    ask: Callable[[], D],
    timeout: float,
    *,
    interval: float = 0.25,
    on_change: Callable[[D], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> D:
    """Poll `ask` until allow/deny or `timeout` seconds; returns the last decision."""
    deadline = clock() + timeout
    last_line = None
    while True:
        decision = ask()
        if on_change is not None and decision.summary() != last_line:
            on_change(decision)
            last_line = decision.summary()
        if decision.final or clock() >= deadline:
            return decision
        sleep(max(0.0, min(interval, deadline - clock())))
