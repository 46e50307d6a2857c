"""The progress display used when the runner passes no hook: one log line per state change or interval."""

from __future__ import annotations

import io

from expandcontract.backfill.progress import LogLines, describe

EVENT = {
    "name": "users-email-verified.users",
    "rows_done": 250_000,
    "rows_estimate": 1_000_000,
    "rate": 50_000.0,
    "eta_s": 15.0,
    "batch_size": 5000,
    "throttled_reason": None,
    "state": "running",
}


def test_describe_names_progress_rate_eta_and_reason() -> None:
    assert describe(EVENT) == (
        "backfill users-email-verified.users: 250,000/~1,000,000 rows (25%), 50,000 rows/s, ETA 15s, batch 5,000"
    )
    paused = {**EVENT, "state": "paused", "throttled_reason": "paused; resume with `x`"}
    assert (
        describe(paused) == "backfill users-email-verified.users: 250,000/~1,000,000 rows (25%), waiting: paused; "
        "resume with `x`"
    )
    throttled = {**EVENT, "state": "throttled", "throttled_reason": "replica r1 is 12.0 s behind"}
    assert "rows/s" not in describe(throttled) and "ETA" not in describe(throttled)  # a waiting rate never freezes
    assert describe(throttled).endswith("waiting: replica r1 is 12.0 s behind")


def test_log_lines_rate_limited_but_state_changes_always_shown() -> None:
    out = io.StringIO()
    log = LogLines(out, every_s=3600)
    log(EVENT)
    log({**EVENT, "rows_done": 300_000})  # same state within the interval: suppressed
    log({**EVENT, "state": "throttled", "throttled_reason": "replica r1 is 12.0 s behind"})
    log({**EVENT, "state": "done", "rows_done": 1_000_000})
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert "waiting: replica r1 is 12.0 s behind" in lines[1]
    assert lines[2].endswith("[done]")


def test_rich_bar_renders_events_without_a_terminal() -> None:
    from expandcontract.backfill.progress import RichBar

    bar = RichBar()
    bar(EVENT)
    bar({**EVENT, "state": "throttled", "throttled_reason": "replica r1 is 12.0 s behind"})
    bar({**EVENT, "state": "done", "rows_done": 1_000_000})
    task = bar.progress.tasks[0]
    bar.close()
    assert task.completed == task.total == 1_000_000
