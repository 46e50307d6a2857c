"""A TCP proxy on 127.0.0.1 in front of the test PostgreSQL, for network faults.

Modes, per connection: `pass` (forward both ways), `cut` (close both sides at once: the client sees the
server vanish) and `stall` (keep both sockets open and forward nothing: the client's bytes are read by no
one and the server's replies never arrive; the peers' kernels still ACK, so it is what a hung middlebox
looks like). A fault can be armed on a pattern the client sends (`arm("stall", b"UPDATE ")`): the
matching chunk is forwarded to the server, then the connection stalls or is cut, so the server has run
the statement (and holds its locks) when the client loses sight of it. New connections after a fault
pass, unless `stall_new` is set (a whole network that accepts and carries nothing).

Threads, no dependencies; `with Proxy(host, port) as p:` closes everything at the end.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class _Link:
    client: socket.socket
    server: socket.socket | None
    mode: str = "pass"  # pass | stall | closed
    sent: bytearray = field(default_factory=bytearray)  # the client's last bytes, to match patterns across chunks

    def close(self) -> None:
        self.mode = "closed"
        for s in (self.client, self.server):
            if s is not None:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()


class Proxy:
    """`host` may be a socket directory (the embedded server listens on a Unix socket only)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.links: list[_Link] = []
        self.lock = threading.Lock()
        self.stall_new = False
        self._armed: tuple[str, bytes] | None = None
        self.fired = threading.Event()  # set when an armed fault has happened
        self.fired_links: list[_Link] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="proxy-accept")
        self._thread.start()

    # -- control ----------------------------------------------------------------------------------
    def arm(self, mode: str, pattern: bytes) -> None:
        """The next connection whose client sends `pattern` gets `mode` ("stall" or "cut") right after
        that chunk reached the server; "mark" only remembers it (`fired_links`) for a later `stall()`."""
        assert mode in ("stall", "cut", "mark")
        with self.lock:
            self.fired.clear()
            self._armed = (mode, pattern)

    def stall(self, link: _Link) -> None:
        with self.lock:
            if link.mode == "pass":
                link.mode = "stall"

    def stall_all(self) -> None:
        with self.lock:
            for link in self.links:
                if link.mode == "pass":
                    link.mode = "stall"

    def cut_all(self) -> None:
        with self.lock:
            links, self.links = self.links, []
        for link in links:
            link.close()

    @classmethod
    def before(cls, url: str) -> Proxy:
        """A proxy in front of the server `url` names."""
        from expandcontract.db.url import where

        w = where(url)
        return cls(w.host, int(w.port))

    def url(self, url: str) -> str:
        """`url` (user, password, database) through this proxy, over TCP on 127.0.0.1."""
        from urllib.parse import urlsplit

        from expandcontract.db.url import validate, where

        parts = urlsplit(validate(url))
        auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return f"postgresql://{auth}127.0.0.1:{self.port}/{where(url).dbname}"

    @property
    def stalled(self) -> int:
        with self.lock:
            return sum(link.mode == "stall" for link in self.links)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        self.cut_all()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- forwarding -------------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.stall_new:
                link = _Link(client, None, mode="stall")
            else:
                try:
                    server = self._dial()
                except OSError:
                    client.close()
                    continue
                link = _Link(client, server)
            with self.lock:
                self.links.append(link)
            if link.server is not None:
                threading.Thread(target=self._pump, args=(link,), daemon=True, name="proxy-pump").start()

    def _dial(self) -> socket.socket:
        host, port = self.target
        if host.startswith("/"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(f"{host}/.s.PGSQL.{port}")
            s.settimeout(None)
            return s
        s = socket.create_connection((host, port), timeout=10)
        s.settimeout(None)
        return s

    def _pump(self, link: _Link) -> None:
        assert link.server is not None
        peers = {link.client: link.server, link.server: link.client}
        while link.mode == "pass" and not self._stop.is_set():
            try:
                ready, _, _ = select.select(list(peers), [], [], 0.05)
            except (OSError, ValueError):
                break
            if link.mode != "pass":
                break
            for src in ready:
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    link.close()
                    return
                fault = self._match(link, data) if src is link.client else None
                try:
                    peers[src].sendall(data)
                except OSError:
                    link.close()
                    return
                if fault == "cut":
                    link.close()
                    self._fire(link)
                    return
                if fault == "mark":
                    self._fire(link)
                if fault == "stall":
                    link.mode = "stall"
                    self._fire(link)
                    break
        # stalled: the sockets stay open and nobody reads them, until the proxy closes

    def _match(self, link: _Link, data: bytes) -> str | None:
        with self.lock:
            armed = self._armed
            if armed is None:
                return None
            mode, pattern = armed
            window = bytes(link.sent[-len(pattern) :]) + data
            link.sent[:] = window[-len(pattern) :]
            if pattern not in window:
                return None
            self._armed = None
            return mode

    def _fire(self, link: _Link) -> None:
        with self.lock:
            self.fired_links.append(link)
        self.fired.set()
