"""How a running backfill shows itself when no runner hook is given: a rich progress bar when stderr is
a terminal, one log line every few seconds (and on every state change) otherwise. stdout stays clean for
`--format json`."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

Event = dict[str, Any]


def describe(e: Event) -> str:
    """One line of a running backfill's progress. Rate and ETA say why they do not move while it waits."""
    done, est = e.get("rows_done") or 0, e.get("rows_estimate")
    pct = f" ({min(100.0, 100.0 * done / est):.0f}%)" if est else ""
    total = f"/~{est:,}" if est else ""
    state, reason = e.get("state"), e.get("throttled_reason")
    line = f"backfill {e['name']}: {done:,}{total} rows{pct}"
    if state in ("done", "cancelled"):
        return f"{line} [{state}]"
    if reason:
        return f"{line}, waiting: {reason}"  # no rate or ETA while it waits: they would only freeze
    if state == "paused":
        return f"{line}, paused (`expandcontract backfill resume {e['name']}` continues)"
    eta = e.get("eta_s")
    parts = [
        line,
        f"{(e.get('rate') or 0):,.0f} rows/s",
        f"ETA {_duration(eta)}" if eta is not None else "",
        f"batch {e.get('batch_size') or 0:,}",
    ]
    return ", ".join(p for p in parts if p)


def describe_status(row: Event) -> str:
    """One line for a backfill status row (`backfill.control.status`), as `status` shows it."""
    done, est, state = row.get("rows_done") or 0, row.get("rows_estimate"), row.get("state")
    pct = f" ({row['percent']:.0f}%)" if row.get("percent") is not None else ""
    line = f"backfill {row['name']}: {state}, {done:,}{f'/~{est:,}' if est else ''} rows{pct}"
    if state == "running" and row.get("throttled_reason"):
        return f"{line}, waiting: {row['throttled_reason']}"
    if state == "running" and row.get("rate"):
        eta = row.get("eta_s")
        return f"{line}, {row['rate']:,.0f} rows/s" + (f", ETA {_duration(eta)}" if eta is not None else "")
    if state == "interrupted":
        return f"{line}; no process works on it: `expandcontract run migrate` resumes it from its checkpoint"
    if row.get("error"):
        return f"{line}; error: {row['error']}"
    return line


def _duration(s: float) -> str:
    s = int(s)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class LogLines:
    """Plain lines on stderr: at most one per `every_s`, always on a state or reason change."""

    def __init__(self, stream: TextIO | None = None, every_s: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.last = 0.0
        self.last_key: tuple[Any, Any] | None = None

    def __call__(self, e: Event) -> None:
        key = (e.get("state"), e.get("throttled_reason"))
        now = time.monotonic()
        if key == self.last_key and now - self.last < self.every_s:
            return
        self.last, self.last_key = now, key
        print(describe(e), file=self.stream, flush=True)

    def close(self) -> None:
        pass


class RichBar:
    """A rich progress bar with rate and ETA on a terminal; reasons for waiting printed above it."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
            TextColumn("{task.fields[rate]:,.0f} rows/s"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"),
            console=self.console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.last_reason: dict[str, Any] = {}
        self.progress.start()

    def __call__(self, e: Event) -> None:
        name = e["name"]
        total = max(e.get("rows_estimate") or 0, e.get("rows_done") or 0, 1)
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(f"backfill {name}", total=total, rate=0.0, note="")
        reason = e.get("throttled_reason")
        if reason != self.last_reason.get(name):
            self.last_reason[name] = reason
            if reason:
                self.console.print(f"backfill {name}: waiting: {reason}")
        waiting = e.get("state") in ("paused", "throttled", "cancelled") or bool(reason)
        note = ("waiting" if reason else e["state"]) if waiting else ""
        completed = total if e.get("state") == "done" else e.get("rows_done") or 0
        rate = 0.0 if waiting else e.get("rate") or 0.0
        self.progress.update(self.tasks[name], completed=completed, total=total, rate=rate, note=note)

    def close(self) -> None:
        self.progress.stop()


def default_display() -> LogLines | RichBar:
    return RichBar() if sys.stderr.isatty() else LogLines()
