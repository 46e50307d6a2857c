"""The worker processes of one release, from the parent's side: start, hand out plans, probe, stop.

Workers are started by a fork server (a clean process that has imported SQLAlchemy and psycopg once),
so starting a release costs a fork and the import of its models, not a fresh interpreter each. The
current step is one shared integer: a worker counts each operation against the step in force when the
operation began.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from expandcontract.errors import UsageError
from expandcontract.rehearse import worker
from expandcontract.rehearse.pools import ModelTable, TablePlan

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
PROBE_TIMEOUT_S = 10.0


def context() -> Any:
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["expandcontract.rehearse.worker", "sqlalchemy", "psycopg"])
    return ctx


@dataclass(frozen=True)
class Release:
    """One release of the app: where its code is and how it reaches the database."""

    name: str  # "old" | "new"
    root: str  # project root of that release's tree
    models: str  # SPEC
    hook: str | None = None  # `traffic = "module:function"` of that release's config
    driver: str = "psycopg"


@dataclass
class Outcome:
    stats: list[dict[int, worker.StepStats]] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)  # one line per worker that did not finish cleanly


class Fleet:
    def __init__(self, release: Release, url: str, *, workers: int, step: Any, rate: float, seed: int) -> None:
        self.release = release
        self.url = url
        self.ctx = context()
        self.step = step
        self.seen = self.ctx.Array("i", [-1] * workers, lock=False)  # per worker: the step of its last operation
        self.setups = [
            worker.Setup(release.name, i + 1, url, release.root, release.models, release.hook, seed + i, rate)
            for i in range(workers)
        ]
        self.pipes: list[Connection] = []
        self.stops: list[Any] = []
        self.procs: list[Any] = []
        self.tables: list[ModelTable] = []

    def start(self) -> list[ModelTable]:
        """Start the workers and wait until each has imported the models; returns what they map."""
        try:
            return self._start()
        except BaseException:
            self.kill()
            raise

    def _start(self) -> list[ModelTable]:
        for setup in self.setups:
            here, there = self.ctx.Pipe()
            stop = self.ctx.Event()
            proc = self.ctx.Process(
                target=worker.main,
                args=(setup, there, self.step, stop, self.seen),
                name=setup.application_name,
                daemon=True,
            )
            proc.start()
            there.close()
            self.pipes.append(here)
            self.stops.append(stop)
            self.procs.append(proc)
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            message = self._receive(pipe, proc, START_TIMEOUT_S, "start")
            if message[0] == "error":
                raise UsageError(str(message[1]))
            if message[0] != "ready":
                raise RuntimeError(f"{proc.name} failed to start: {message[1]}")
            self.tables = message[1]
        return self.tables

    def operated_in(self, step: int) -> bool:
        """Some worker of this release has finished an operation it began in `step`."""
        return any(v == step for v in self.seen)

    def go(self, plans: list[list[TablePlan]]) -> None:
        for pipe, plan in zip(self.pipes, plans, strict=True):
            pipe.send(("plan", plan))

    def probe(self, command: tuple[Any, ...]) -> tuple[str, Any]:
        """Run one probe command on the first worker (between its own operations)."""
        pipe = self.pipes[0]
        pipe.send(command)
        if not pipe.poll(PROBE_TIMEOUT_S):
            return "error", f"no answer within {PROBE_TIMEOUT_S:.0f}s"
        kind, reply = pipe.recv()
        if kind != "probe":
            return "error", f"the worker stopped ({kind})"
        result: tuple[str, Any] = reply
        return result

    def stop(self) -> Outcome:
        """Stop every worker after its current operation and collect its counts."""
        out = Outcome()
        for stop in self.stops:
            stop.set()
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            try:
                message = self._receive(pipe, proc, STOP_TIMEOUT_S, "stop")
            except RuntimeError as exc:
                out.crashes.append(str(exc))
                continue
            if message[0] == "result":
                out.stats.append(message[1])
            else:
                out.crashes.append(f"{proc.name}: {str(message[1]).strip().splitlines()[-1]}")
        self.kill()
        return out

    def kill(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, 9)
                proc.join(5)
        for pipe in self.pipes:
            pipe.close()
        self.procs, self.pipes, self.stops = [], [], []

    def _receive(self, pipe: Connection, proc: Any, timeout: float, what: str) -> tuple[Any, ...]:
        while True:
            if pipe.poll(timeout):
                try:
                    message: tuple[Any, ...] = pipe.recv()
                except EOFError:
                    raise RuntimeError(f"{proc.name} exited during {what} (exit code {proc.exitcode})") from None
                if message[0] == "probe":  # a late answer to a probe that timed out
                    continue
                return message
            raise RuntimeError(f"{proc.name} did not {what} within {timeout:.0f}s (an operation hung)")
