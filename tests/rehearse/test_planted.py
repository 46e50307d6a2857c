"""Rehearse fails planted unsafe changes, naming the phase and the release, and passes their safe
counterparts (a representative subset: benchmarks/rehearse.py runs them all, at realistic sizes)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from expandcontract.config import load_config
from expandcontract.phases.project import load_project
from expandcontract.rehearse import Options, Report, rehearse
from tests.rehearse import planted

pytestmark = pytest.mark.integration

FAST = Options(rows=200, seconds=0.3)
BY_SLUG = {c.slug: c for c in planted.CASES}

# An unbatched backfill holds every row it updated until it commits; on a big table that takes long.
# Here the table is small, so each row costs 3 ms (pg_sleep in the WHERE) to hold the locks as long.
SLOW_UNBATCHED = dataclasses.replace(
    BY_SLUG["unbatched-backfill"],
    migrate="op.execute(\"UPDATE users SET plan = 'free' WHERE plan IS NULL AND pg_sleep(0.003) IS NOT NULL\")",
)


def rehearsed(tmp_path: Path, server: str, case: planted.Case, options: Options = FAST) -> Report:
    built = planted.build(tmp_path, case)
    project = load_project(load_config(start=built.root))
    return rehearse(
        project,
        old=built.old,
        old_models=built.old_models,
        new_models=built.new_models,
        options=options,
        server_url=server,
    )


@pytest.mark.parametrize(
    "slug",
    [
        "one-sided-sync-trigger",
        "backfill-misses-rows",
        "not-valid-check-before-backfill",
        "add-required-column",
        "contract-drops-mapped-column",
    ],
)
def test_an_unsafe_change_fails_naming_its_phase_and_release(tmp_path: Path, pg_server_url: str, slug: str) -> None:
    case = BY_SLUG[slug]
    report = rehearsed(tmp_path, pg_server_url, case)
    assert not report.ok
    assert case.expect in {(p.kind, p.phase, p.release) for p in report.problems}, report.render_text()
    assert all(p.change == "planted" and p.phase in ("expand", "migrate", "contract") for p in report.problems)


@pytest.mark.parametrize(
    "slug", ["rename-with-two-way-trigger", "required-column-in-three-phases", "drop-column-in-contract"]
)
def test_a_safe_counterpart_passes(tmp_path: Path, pg_server_url: str, slug: str) -> None:
    report = rehearsed(tmp_path, pg_server_url, BY_SLUG[slug])
    assert report.ok, report.render_text()
    assert all(s.ops > 0 for s in report.steps)


def test_a_backfill_holding_its_row_locks_is_a_stall_naming_the_statement(tmp_path: Path, pg_server_url: str) -> None:
    report = rehearsed(tmp_path, pg_server_url, SLOW_UNBATCHED, dataclasses.replace(FAST, max_lock_wait_ms=200))
    stalls = [p for p in report.problems if p.kind == "stall"]
    assert stalls, report.render_text()
    assert {(p.phase, p.release) for p in stalls} == {("migrate", "new")}
    assert "UPDATE users SET plan = 'free'" in (stalls[0].sql or "")
    assert "held by the migration" in stalls[0].message
    migrate = next(s for s in report.steps if s.phase == "migrate")
    assert migrate.max_lock_wait_ms > 200


def test_every_step_carries_each_running_releases_traffic_however_short(tmp_path: Path, pg_server_url: str) -> None:
    # A step's seconds can pass before a (starved) worker finishes one operation: then the step proved nothing
    # about that release. Rehearse waits, within a bound, for one operation of each running release.
    options = dataclasses.replace(FAST, seconds=0.001)
    report = rehearsed(tmp_path, pg_server_url, BY_SLUG["drop-column-in-contract"], options)
    assert report.ok, report.render_text()
    assert report.steps and all(s.ops > 0 for s in report.steps), report.render_text()
