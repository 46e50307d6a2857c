"""`run ... --metrics-port PORT`: this process's metrics on http://HOST:PORT/metrics while it runs.

Loopback by default and without a token (the process lives as long as its run; `--metrics-host` exposes
it further). The registry holds the live events of this process (batches, gate answers) and the database
state (every backfill, every phase run), with the same names as `serve /metrics`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from expandcontract.backfill import observe
from expandcontract.errors import UsageError
from expandcontract.metrics.http import registry_for, start

Wrap = Callable[[Any], Any]  # a gate decider -> the same decider, recorded


@contextmanager
def exposed(url: str | None, host: str, port: int, notify: Callable[[str], None]) -> Iterator[Wrap]:
    """Serve the metrics for the duration of the block; yields a function that records a decider's answers."""
    registry, live = registry_for(url)
    try:
        server, stop = start(registry, host, port)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {host}:{port} for --metrics-port ({exc.strerror}); "
            "check --metrics-host, or pick another port (0: any free)"
        ) from None
    remove = observe.add(live)
    notify(f"metrics on http://{host}:{server.server_port}/metrics")

    def wrap(decider: Any) -> Any:
        if decider is None:
            return None

        def recorded(phase: str, change: str) -> Any:
            t0 = time.monotonic()
            decision = decider(phase, change)
            live.gate(decision, time.monotonic() - t0)
            return decision

        return recorded

    try:
        yield wrap
    finally:
        remove()
        stop()
