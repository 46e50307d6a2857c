"""`--wait` on a live cluster: sleep until something the last decision read changes, not on a timer.

After each decision the live source knows what it read (kind, namespace, label selector or name, the
list's resourceVersion and the objects). `changed(timeout)` opens one WATCH per read, from that
resourceVersion, and returns True on the first event that is a real change (an ADDED replay of an
object already seen is not), False when the timeout passes quietly, and None when the API serves no
watch for it (403, 405, a proxy that cuts streams): the caller then polls. A 410 (too old) or an ERROR
event counts as a change: the next decision lists afresh anyway. Streams are closed as soon as one
fires, so no reader thread outlives the wait by more than a read.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from typing import Any

from expandcontract.gates.objects import Obj

TIMEOUT_CAP_S = 60.0  # a watch is re-opened at least this often (the API server ends them anyway)


def _same(event: dict[str, Any], seen: dict[str, Obj]) -> bool:
    obj = event.get("object") or {}
    meta = obj.get("metadata") or {}
    key = str(meta.get("uid") or meta.get("name"))
    before = seen.get(key)
    if event.get("type") == "BOOKMARK":
        return True
    if event.get("type") != "ADDED" or before is None:
        return False
    mine = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
    theirs = {k: v for k, v in before.items() if k not in ("kind", "apiVersion")}
    return mine == theirs


class Watcher:
    """Waits for a change to anything `source` read last time (a LiveSource)."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.unsupported = False

    def changed(self, timeout: float) -> bool | None:
        if self.unsupported or not self.source.seen:
            return None
        timeout = max(0.05, min(timeout, TIMEOUT_CAP_S))
        fired = threading.Event()
        failed: list[int] = []
        streams: list[Any] = []
        lock = threading.Lock()
        reads = list(self.source.seen.items())

        def run(key: tuple[str, str, str | None, str | None], rv: str | None, seen: dict[str, Obj]) -> None:
            kind, namespace, label_selector, name = key
            query: dict[str, Any] = {"watch": True, "timeout_seconds": int(timeout) + 1, "allow_watch_bookmarks": True}
            if label_selector:
                query["label_selector"] = label_selector
            if name:
                query["field_selector"] = f"metadata.name={name}"
            if rv:
                query["resource_version"] = rv
            try:
                resp = self.source.open_watch(kind, namespace, query, timeout + 5)
            except Exception as exc:  # 403/405/unreachable: this API does not watch for us
                status = int(getattr(exc, "status", 0) or 0)
                with lock:
                    failed.append(status)
                if status == 410 or len(failed) == len(reads):
                    fired.set()
                return
            with lock:
                streams.append(resp)
            try:
                for line in resp:
                    if fired.is_set():
                        return
                    if not line.strip():
                        continue
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue
                    if not _same(event, seen):
                        fired.set()
                        return
            except Exception:  # closed under us, or the stream broke: either way re-ask
                fired.set()

        threads = [threading.Thread(target=run, args=(k, rv, seen), daemon=True) for k, (rv, seen) in reads]
        for thread in threads:
            thread.start()
        got = fired.wait(timeout)
        with lock:
            for resp in streams:
                _hang_up(resp)
        if len(failed) == len(reads) and not any(code == 410 for code in failed):
            self.unsupported = True
            return None
        return got


def _hang_up(resp: Any) -> None:
    """End a stream another thread is blocked reading: shut the socket down (a plain close does not wake
    a blocked recv), then close the response."""
    sock = getattr(getattr(resp, "connection", None), "sock", None)
    with contextlib.suppress(OSError):
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        resp.close()
