"""A connection that notices when the network stops carrying its replies.

TCP keepalives and `tcp_user_timeout` (set in connect.py) bound a wait on a link whose packets are lost.
They cannot see a link that is alive at the TCP level but carries nothing: a hung proxy, load balancer
or NAT box whose kernel still ACKs every probe. There a client waiting for a reply waits forever while
its server session, long finished, sits `idle in transaction` with the batch's row locks held.

So while a statement's reply is awaited and nothing has arrived for `stall_check_s`, we ask the server
on a side connection what our session is doing: still `active` (a long CREATE INDEX CONCURRENTLY, a
lock wait bounded by lock_timeout) means keep waiting; gone, or idle although we never got its answer,
means the link is dead: we end that orphaned session (it is ours: its row locks go at once), close the
connection and raise OperationalError, so callers reconnect exactly as after a cut connection. When the
side connection cannot be had either, the link counts as dead once the silence exceeds `dead_after_s`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.waiting import Ready

STATE_SQL = (
    "SELECT state, extract(epoch FROM clock_timestamp() - state_change)::float8 FROM pg_stat_activity WHERE pid = %s"
)


@dataclass(frozen=True)
class Watch:
    conninfo: str  # how to reach the same server for the side check (the password included, never shown)
    stall_check_s: float  # silence before asking the server (0: never ask)
    dead_after_s: float  # silence after which an unanswerable check counts as a dead link


STALLED = "connection stalled"  # how the OperationalError raised for a dead link begins


def stalled(exc: BaseException) -> bool:
    """`exc` is the OperationalError the stall check raised (a plain psycopg.OperationalError, so every
    handler of a lost connection treats it as one)."""
    return isinstance(exc, psycopg.OperationalError) and str(exc).startswith(STALLED)


class WatchedConnection(psycopg.Connection[Any]):
    """psycopg's Connection with a bound on the silence while a reply is awaited (see the module doc)."""

    _watch: Watch | None = None
    _side_timeout_s: float | None = None  # a side connection: fail after this much silence, never ask

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        if self._watch is None and self._side_timeout_s is None:
            return super().wait(gen, interval, timeout)
        return super().wait(self._watched(gen), interval, timeout)

    def _watched(self, gen: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
        pid = self.pgconn.backend_pid
        last_io = time.monotonic()
        watch = self._watch
        check_every = self._side_timeout_s if watch is None else watch.stall_check_s
        next_check = last_io + check_every if check_every else None
        try:
            state = next(gen)
            while True:
                ready = yield state
                now = time.monotonic()
                if ready != Ready.NONE:
                    last_io = now
                    next_check = now + check_every if check_every else None
                elif next_check is not None and now >= next_check:
                    silent = now - last_io
                    verdict = "silent" if watch is None else _verdict(watch, pid, silent)
                    if verdict is not None:
                        self.pgconn.finish()  # the socket goes; the connection is closed (and broken)
                        raise psycopg.OperationalError(_message(verdict, pid, silent))
                    next_check = now + check_every  # type: ignore[operator]
                state = gen.send(ready)
        except StopIteration as stop:
            return stop.value


def _verdict(watch: Watch, pid: int, silent_s: float) -> str | None:
    """None while the server still works for us; else why the link is dead."""
    side_timeout = max(1.0, watch.stall_check_s)
    try:
        side = WatchedConnection.connect(watch.conninfo, autocommit=True, connect_timeout=max(2, int(side_timeout)))
    except psycopg.Error:
        return "unreachable" if silent_s >= watch.dead_after_s else None
    side._side_timeout_s = side_timeout
    try:
        with side:
            row = side.execute(STATE_SQL, (pid,)).fetchone()
            if row is None:
                return "gone"
            state, since_s = row
            if state == "active" or since_s is None or since_s < 1.0:
                return None  # still working, or it answered a moment ago and the reply is on its way
            # ours and orphaned: its locks must not wait for the server to notice
            with contextlib.suppress(psycopg.Error):
                side.execute("SELECT pg_terminate_backend(%s)", (pid,))
            return str(state)
    except psycopg.Error:
        return "unreachable" if silent_s >= watch.dead_after_s else None


def _message(verdict: str, pid: int, silent_s: float) -> str:
    if verdict == "silent":
        return f"{STALLED}: no reply from the server for {silent_s:.0f} s; connection closed"
    if verdict == "gone":
        return f"{STALLED}: no reply for {silent_s:.0f} s and server session {pid} is gone; connection closed"
    if verdict == "unreachable":
        return f"{STALLED}: no reply for {silent_s:.0f} s and the server cannot be reached; connection closed"
    return (
        f"{STALLED}: no reply for {silent_s:.0f} s although server session {pid} is {verdict}; "
        "ended that session (its locks are released) and closed the connection"
    )


def lost_connection(exc: BaseException) -> str | None:
    """The first line of a stalled or lost connection found in `exc`'s chain (SQLAlchemy wraps it, and a
    later "invalid transaction" error can hide it), else None."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        cur = todo.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        if stalled(cur):
            return str(cur).strip().splitlines()[0]
        if isinstance(cur, psycopg.OperationalError) and cur.sqlstate is None:  # the client's, not a server error
            text = str(cur).strip()
            return "lost the connection to the server: " + (text.splitlines()[0] if text else type(cur).__name__)
        todo.extend(e for e in (getattr(cur, "orig", None), cur.__cause__, cur.__context__) if e is not None)
    return None
