"""Who else wants to hear about a backfill's batches in this process (metrics, for one).

The engine calls `batch(...)` after every committed batch and the progress events (about once a second,
and at once on a state change) pass through `progress(...)`. Observers are registered per process
(`add`) and must be cheap and thread-safe; one that raises is dropped from this call, never the batch.
Nothing here imports an observer's library: `expandcontract.metrics.live` registers itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("expandcontract.backfill")


class Observer(Protocol):
    def batch(self, name: str, rows: int, seconds: float, size: int) -> None: ...

    def progress(self, event: dict[str, Any]) -> None: ...


_lock = threading.Lock()
_observers: tuple[Observer, ...] = ()


def add(observer: Observer) -> Callable[[], None]:
    """Register `observer`; the returned function removes it."""
    global _observers
    with _lock:
        _observers = (*_observers, observer)

    def remove() -> None:
        global _observers
        with _lock:
            _observers = tuple(o for o in _observers if o is not observer)

    return remove


def batch(name: str, rows: int, seconds: float, size: int) -> None:
    for o in _observers:
        try:
            o.batch(name, rows, seconds, size)
        except Exception:
            log.exception("backfill observer %r failed on a batch", o)


def tee(progress: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """`progress`, then every observer's `progress` with the same event."""

    def both(event: dict[str, Any]) -> None:
        progress(event)
        for o in _observers:
            try:
                o.progress(event)
            except Exception:
                log.exception("backfill observer %r failed on a progress event", o)

    return both
