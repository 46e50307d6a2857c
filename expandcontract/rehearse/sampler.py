"""Lock waits of the app's sessions on the migration, sampled from pg_stat_activity every few ms.

A traffic session (its application_name says `ec-rehearse/<release>/<n>`) that waits on a lock whose
holder (or a request queued ahead of it, as pg_blocking_pids reports) is a session that is not traffic
is waiting on the migration: the runner, its backfill, its lock connection. How long it has waited is
the age of its statement. Only lock waits count: a slow machine makes operations slow, never stalls.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from expandcontract.db.connect import connect

INTERVAL_S = 0.02
CONTROL_APP = "ec-rehearse/control"

WAITS_SQL = """
SELECT w.pid, split_part(w.application_name, '/', 2) AS release, w.query_start,
       (extract(epoch FROM clock_timestamp() - w.query_start) * 1000)::float8 AS waited_ms,
       left(w.query, 500), b.pid, left(coalesce(b.query, ''), 2000), b.state,
       (SELECT l.mode || ' on ' || coalesce(l.relation::regclass::text, l.locktype) FROM pg_locks l
         WHERE l.pid = w.pid AND NOT l.granted LIMIT 1)
FROM pg_stat_activity w
CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid)
JOIN pg_stat_activity b ON b.pid = blocker.pid
WHERE w.datname = current_database() AND w.application_name LIKE 'ec-rehearse/%/%'
  AND w.wait_event_type = 'Lock' AND coalesce(b.application_name, '') NOT LIKE 'ec-rehearse/%'
"""


@dataclass
class Wait:
    """One statement of one app session waiting on the migration (the longest seen of it)."""

    step: int
    release: str
    waited_ms: float
    query: str
    blocker_pid: int
    blocker_query: str
    blocker_state: str
    lock: str


@dataclass
class Sampler:
    url: str
    step: int = 0
    waits: dict[tuple[int, Any], Wait] = field(default_factory=dict)  # (pid, query_start) -> wait
    error: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ec-rehearse-locks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def max_wait_ms(self, step: int, release: str) -> float:
        return max((w.waited_ms for w in self.waits.values() if w.step == step and w.release == release), default=0.0)

    def longer_than(self, ms: float) -> list[Wait]:
        return [w for w in self.waits.values() if w.waited_ms > ms]

    def _run(self) -> None:
        try:
            with connect(self.url, autocommit=True, application_name=CONTROL_APP) as conn:
                while not self._stop.wait(INTERVAL_S):
                    self.sample(conn)
        except Exception as exc:  # the report says the figures are incomplete
            self.error = f"{type(exc).__name__}: {exc}"

    def sample(self, conn: Any) -> None:
        rows = conn.execute(WAITS_SQL).fetchall()
        for pid, release, started, waited, query, bpid, bquery, bstate, lock in rows:
            key = (pid, started)
            seen = self.waits.get(key)
            if seen is None:
                # the blocker's statement when the wait is first seen: the one that took (or queued for) the lock
                self.waits[key] = Wait(self.step, release, waited, query, bpid, bquery, bstate or "", lock or "")
            elif waited > seen.waited_ms:
                seen.waited_ms = waited
