"""`ec_renames = {"table.old_column": "table.new_column"}`: both releases must see one value.

While both releases run, a probe writes a value through one name with one release (an INSERT of a row
of its own, an UPDATE of a seeded row nobody else touches) and reads it back through the other name
with the other release, in both directions; a difference is a divergence. After each migrate, rows
where the two columns differ are a divergence too (the backfill or the sync trigger missed them).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from expandcontract.errors import ProjectError
from expandcontract.phases.project import Revision

PROBE_INTERVAL_S = 0.02
SHOWN_KEYS = 5


@dataclass(frozen=True)
class Rename:
    change: str
    table: str  # `users`, `audit.log`
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.table}.{self.old} -> {self.table}.{self.new}"


def declared(revisions: Iterable[Revision]) -> list[Rename]:
    """The renames the pending revisions declare, checked for shape."""
    out: list[Rename] = []
    for rev in revisions:
        raw = getattr(rev.module, "ec_renames", None)
        if raw is None:
            continue
        if not isinstance(raw, dict):
            raise ProjectError(f"{rev.path}: ec_renames must be a dict {{'table.old_column': 'table.new_column'}}")
        for old, new in raw.items():
            if not (isinstance(old, str) and isinstance(new, str) and "." in old and "." in new):
                raise ProjectError(
                    f"{rev.path}: ec_renames entry {old!r}: {new!r} is not 'table.column': 'table.column'"
                )
            old_table, old_col = old.rsplit(".", 1)
            new_table, new_col = new.rsplit(".", 1)
            if old_table != new_table:
                raise ProjectError(f"{rev.path}: ec_renames {old!r} -> {new!r}: both names must be of one table")
            rename = Rename(rev.change or rev.id, old_table, old_col, new_col)
            if rename not in out:
                out.append(rename)
    return out


@dataclass
class Divergence:
    rename: Rename
    message: str
    step: int


Prober = Callable[[tuple[Any, ...]], tuple[str, Any]]


@dataclass
class Probe:
    """Runs in a thread while both releases serve traffic."""

    renames: list[Rename]
    old: Prober
    new: Prober
    reserved: dict[str, list[tuple[Any, ...]]]  # table -> seeded keys only the probe writes
    step: int
    found: list[Divergence] = field(default_factory=list)
    checks: int = 0
    rounds: int = 0  # complete rounds: every rename, both directions, an INSERT and an UPDATE each
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        if self.renames:
            self._thread = threading.Thread(target=self._run, name="ec-rehearse-renames", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def wait_round(self, timeout: float) -> None:
        """Block until one complete round is done (or `timeout`), so a short step still probes it all."""
        deadline = time.monotonic() + timeout
        while self.rounds < 1 and self._thread is not None and self._thread.is_alive():
            if time.monotonic() >= deadline:
                return
            time.sleep(PROBE_INTERVAL_S)

    def _run(self) -> None:
        counter = itertools.count(1)
        while not self._stop.is_set():
            for update in (False, True):
                for rename in self.renames:
                    for writer_is_old in (True, False):
                        self._one(rename, writer_is_old, update, next(counter))
                        if self._stop.wait(PROBE_INTERVAL_S):
                            return
            self.rounds += 1

    def _one(self, rename: Rename, writer_is_old: bool, update: bool, n: int) -> None:
        write, read = (self.old, self.new) if writer_is_old else (self.new, self.old)
        wcol, rcol = (rename.old, rename.new) if writer_is_old else (rename.new, rename.old)
        writer, reader = ("old", "new") if writer_is_old else ("new", "old")
        keys = self.reserved.get(rename.table) or []
        key = keys[n % len(keys)] if update and keys else None
        status, got = write(("write", rename.table, wcol, key, n))
        if status != "ok":
            return  # an error of the write is the traffic's to report; an unmapped column has nothing to probe
        row, value = got
        self.checks += 1
        status, seen = read(("read", rename.table, rcol, row, None))
        how = f"an UPDATE of row {_key(row)}" if key is not None else f"an INSERT (row {_key(row)})"
        if status == "error":
            self.found.append(
                Divergence(
                    rename, f"the {reader} release could not read {rename.table}.{rcol} after {how}: {seen}", self.step
                )
            )
        elif status == "ok" and str(seen) != str(value):
            self.found.append(
                Divergence(
                    rename,
                    f"the {writer} release wrote {rename.table}.{wcol} = {value!r} ({how}); the {reader} release "
                    f"read {rename.table}.{rcol} = {seen!r}",
                    self.step,
                )
            )


def _key(row: tuple[Any, ...]) -> str:
    return str(row[0]) if len(row) == 1 else str(row)


def differing_rows(conn: Any, table_sql: str, rename: Rename, key: tuple[str, ...]) -> tuple[int, list[Any]]:
    """Rows where the two columns hold different values (compared as text when their types differ)."""
    old, new = sql.Identifier(rename.old), sql.Identifier(rename.new)
    cond = sql.SQL("{}::text IS DISTINCT FROM {}::text").format(old, new)
    row = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(sql.SQL(table_sql), cond)).fetchone()
    count = int(row[0]) if row else 0
    shown: list[Any] = []
    if count and key:
        cols = sql.SQL(", ").join(sql.Identifier(k) for k in key)
        shown = [
            r[0] if len(r) == 1 else tuple(r)
            for r in conn.execute(
                sql.SQL("SELECT {} FROM {} WHERE {} LIMIT {}").format(
                    cols, sql.SQL(table_sql), cond, sql.Literal(SHOWN_KEYS)
                )
            ).fetchall()
        ]
    return count, shown
