"""Exposition: the text for serve's `/metrics` route, and a small HTTP server for `run --metrics-port`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest


def registry_for(url: str | None) -> tuple[CollectorRegistry, Any]:
    """A registry with the process collectors, the database state (when there is a database) and the live
    metrics; returns (registry, LiveMetrics)."""
    from prometheus_client import GCCollector, PlatformCollector, ProcessCollector, disable_created_metrics

    from expandcontract.metrics.live import LiveMetrics

    disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` twin of every counter and histogram
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)
    if url:
        from expandcontract.metrics.state import StateCollector

        registry.register(StateCollector(url))
    return registry, LiveMetrics(registry)


def render(registry: CollectorRegistry) -> Callable[[], tuple[bytes, str]]:
    """For serve's route: (body, content type) of one scrape."""

    def scrape() -> tuple[bytes, str]:
        return generate_latest(registry), CONTENT_TYPE_LATEST

    return scrape


def start(registry: CollectorRegistry, host: str, port: int) -> tuple[Any, Callable[[], None]]:
    """Serve `registry` on http://host:port/metrics from a daemon thread; returns (server, stop)."""
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return server, stop
