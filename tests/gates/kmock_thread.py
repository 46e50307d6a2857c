"""kmock (a Kubernetes API emulator) on loopback in its own event-loop thread.

The official client blocks; running it inside an async test would block kmock's loop. Running kmock in
a thread of its own lets plain sync tests (and the benchmark) talk to it over real HTTP.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from typing import Any

import kmock

from expandcontract.gates.registry import KINDS


def resource_of(kind: str) -> Any:
    k = KINDS[kind]
    return kmock.resource(k.group, k.version, k.plural)


class KmockThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="kmock", daemon=True)
        self.handler: Any = None
        self.server: Any = None
        self.url = ""

    def __enter__(self) -> KmockThread:
        self.thread.start()

        async def start() -> None:
            self.handler = kmock.KubernetesEmulator()
            await self.handler.__aenter__()
            self.server = kmock.Server(self.handler)
            await self.server.__aenter__()

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        self.url = str(self.server.url).rstrip("/")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.server is None:
            return

        async def stop() -> None:
            await self.server.__aexit__(None, None, None)
            await self.handler.__aexit__(None, None, None)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.server = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def seed(self, objects: Iterable[dict[str, Any]]) -> None:
        """Store objects as the API server would serve them (done on the loop thread)."""
        items = list(objects)

        def put() -> None:
            for obj in items:
                meta = obj["metadata"]
                self.handler.objects[resource_of(obj["kind"]), meta.get("namespace"), meta["name"]] = obj

        self.call(put)

    def call(self, fn: Any) -> Any:
        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def client(self, **kwargs: Any) -> Any:
        from kubernetes import client

        from expandcontract.gates.sources import LiveSource

        cfg = client.Configuration()
        cfg.host = self.url
        cfg.retries = 0
        return LiveSource(client.ApiClient(cfg), **kwargs)
