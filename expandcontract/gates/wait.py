"""`--wait`: ask again until the answer is final (allow or deny) or the time is up.

On a live cluster the wait sleeps on a WATCH of what the last decision read (watch.py) and asks again on
the first change; where no watch is served (and for snapshots) it polls. Each question is a full
decision, so every condition is re-checked and a pod that appears mid-wait is never missed. On timeout
the last decision stands (blocked or unknown).
"""

from __future__ import annotations

import math
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
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not (math.isfinite(seconds) and seconds >= 0):  # `nan`, `inf` and `-5` parse as floats
            raise UsageError(f"invalid duration {text!r}; use e.g. 90s, 15m or 1h30m")
        return seconds
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
    changed: Callable[[float], bool | None] | None = None,
    min_gap: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> D:
    """Ask until allow/deny or `timeout` seconds; returns the last decision.

    With `changed(seconds) -> True | False | None` (watch.py) it waits for a change to what was read
    instead of a timer; None from it means no watch is served, and the loop polls every `interval`.
    After a change two questions are still `min_gap` apart (default `interval`), so a burst of events
    (a rollout touching 2,000 pods) costs a few decisions, not one per event.
    """
    gap = interval if min_gap is None else min_gap
    deadline = clock() + timeout
    last_line = None
    while True:
        asked = clock()
        decision = ask()
        if on_change is not None and decision.summary() != last_line:
            on_change(decision)
            last_line = decision.summary()
        if decision.final or clock() >= deadline:
            return decision
        if changed is not None and changed(max(0.0, deadline - clock())) is not None:
            sleep(max(0.0, min(asked + gap - clock(), deadline - clock())))
            continue
        sleep(max(0.0, min(interval, deadline - clock())))
