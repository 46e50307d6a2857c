"""One rehearsal, start to end: the scratch database, the old schema, sample rows, both releases'
traffic through every step, the runner for each pending phase, and what all of that found.

Never the application database: a scratch database on verify's scratch server (the embedded one, or
the server of rehearse's own `--database-url`), dropped at the end, whatever happened.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expandcontract.config import Config
from expandcontract.db.connect import connect
from expandcontract.errors import ExpandContractError, UsageError
from expandcontract.phases.project import Project
from expandcontract.rehearse import catalog, pools, seed, spec
from expandcontract.rehearse.fleet import Fleet, Outcome, Release, context
from expandcontract.rehearse.old import OldRelease, old_release
from expandcontract.rehearse.renames import Divergence, Probe, Rename, declared, differing_rows
from expandcontract.rehearse.report import Problem, Report, StepRow
from expandcontract.rehearse.sampler import CONTROL_APP, Sampler
from expandcontract.rehearse.steps import Pending, Step, pending_changes, plan
from expandcontract.rehearse.worker import StepStats
from expandcontract.verify.scratch import scratch_server
from expandcontract.verify.stepper import Stepper, check_env_py

Progress = Callable[[str], None]
SKIP_GATE = "rehearse: the deploy is simulated on a scratch database"
PROBE_ROUND_TIMEOUT_S = 30.0
TRAFFIC_WAIT_S = 30.0  # how long a step waits for each running release to complete one operation in it


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Options:
    rows: int = 10_000
    seconds: float = 2.0
    max_lock_wait_ms: float = 500.0
    workers: int = 2  # traffic processes per release
    rate: float = 300.0  # operations per second per process, at most
    seed: int = 1

    def check(self) -> None:
        if self.rows < 0:
            raise UsageError(f"--rows must be 0 or more, got {self.rows}")
        if not self.seconds > 0 or self.seconds == math.inf:  # `not >`: NaN compares false with everything
            raise UsageError(f"--seconds must be a finite number more than 0, got {self.seconds}")
        if not self.max_lock_wait_ms > 0 or self.max_lock_wait_ms == math.inf:
            raise UsageError(f"--max-lock-wait-ms must be more than 0, got {self.max_lock_wait_ms}")
        if self.workers < 1:
            raise UsageError(f"workers must be 1 or more, got {self.workers}")


def rehearse(
    project: Project,
    *,
    old: str | Path | None = "HEAD",
    old_models: str | None = None,
    new_models: str | None = None,
    options: Options | None = None,
    server_url: str | None = None,
    progress: Progress = _quiet,
) -> Report:
    """Rehearse deploying the working tree over the release at `old` (a git ref, a directory holding
    the old tree's project root, or None for an empty schema). Raises UsageError (exit 2) for bad
    input; problems found are in the report (`report.ok`)."""
    opts = options or Options()
    opts.check()
    check_env_py(project)
    started = time.monotonic()
    new_spec = new_models or project.config.models
    if not new_spec:
        raise UsageError(
            'rehearse needs the app\'s models: set models = "module.path:attr" in [tool.expandcontract] '
            "(a MetaData or a declarative base), or pass --new-models"
        )
    spec.check(new_spec, "--new-models" if new_models else "models")
    if old_models:
        spec.check(old_models, "--old-models")
    with old_release(project, old) as prior:
        applied = _applied_at(project, prior)
        pending = pending_changes(project, applied)
        releases = {
            "new": Release("new", str(project.root), new_spec, project.config.traffic, app_driver(project.config))
        }
        if prior.root is not None and (old_models or _old_spec(prior) or new_spec):
            releases["old"] = Release(
                "old",
                str(prior.root),
                old_models or _old_spec(prior) or new_spec,
                prior.config.traffic if prior.config else None,
                releases["new"].driver,
            )
        report = Report(old=prior.label, rows=opts.rows, changes=[p.change for p in pending])
        if not pending:
            report.notes.append(f"no revision is pending since {prior.label}: only the code changes are rehearsed")
        with scratch_server(project.config, server_url) as server:
            server.prefix = server.prefix.replace("ec_verify_", "ec_rehearse_")
            report.server = f"PostgreSQL {server.version}, {server.description}"
            url = server.create("db")
            session = Session(project, prior, pending, releases, url, opts, progress, report)
            session.run()
    report.seconds = time.monotonic() - started
    return report


def _old_spec(prior: OldRelease) -> str | None:
    return prior.config.models if prior.config else None


def _applied_at(project: Project, prior: OldRelease) -> set[str]:
    if prior.project is None:
        return set()
    ids = set(prior.project.revisions)
    gone = sorted(ids - set(project.revisions))
    if gone:
        raise UsageError(
            f"revision {gone[0]} exists at {prior.label} but not in the working tree: a released revision "
            "cannot be removed (the databases it ran on still have it); restore it"
        )
    return ids


def app_driver(config: Config) -> str:
    """The driver the app's own database URL names, else the default (psycopg 3; psycopg2 on SQLAlchemy 1.4)."""
    from expandcontract.db.resolve import app_driver as named_driver
    from expandcontract.db.url import sqlalchemy_driver

    return sqlalchemy_driver(named_driver(config))


def driver_url(url: str, driver: str) -> str:
    return f"postgresql+{driver}://" + url.split("://", 1)[1]


@dataclass
class Session:
    project: Project
    prior: OldRelease
    pending: list[Pending]
    releases: dict[str, Release]
    url: str
    opts: Options
    progress: Progress
    report: Report
    rng: random.Random = field(default_factory=lambda: random.Random(1))
    seeded: pools.SeededKeys = field(default_factory=pools.SeededKeys)
    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)
    running: dict[str, Fleet] = field(default_factory=dict)
    ready: dict[str, Fleet] = field(default_factory=dict)
    generation: int = 0
    durations: dict[int, float] = field(default_factory=dict)
    divergences: list[Divergence] = field(default_factory=list)
    failed: bool = False
    slots: int = 0

    def run(self) -> None:
        self.rng = random.Random(self.opts.seed)
        renames = declared(r for p in self.pending for revs in p.revisions.values() for r in revs)
        steps = plan(self.pending, old="old" in self.releases)
        self.steps = steps
        self.step_value = context().Value("i", 0)
        self.sampler = Sampler(self.url)
        try:
            for name in self.releases:  # both releases' models import before anything runs (bad input: exit 2)
                self.prepare(name)
            self.build_old_schema()
            with connect(self.url, autocommit=True, application_name=CONTROL_APP) as control:
                self.control = control
                self.seed()
                self.sampler.start()
                for step in steps:
                    self.enter(step)
                    self.execute(step, renames)
                    if self.failed:
                        break
        finally:
            for name in list(self.running):
                self.retire(name, again=False)
            for fleet in self.ready.values():
                fleet.kill()
            self.sampler.stop()
        self.assemble(steps)

    # -- before any traffic -------------------------------------------------------------------------
    def build_old_schema(self) -> None:
        old = self.prior.project
        if old is None or not old.revisions:
            return
        self.progress(f"building the schema at {self.prior.label} ({len(old.revisions)} revisions)")
        check_env_py(old)
        stepper = Stepper(old, self.url)
        try:
            stepper.upgrade("heads")
        except ExpandContractError:
            raise
        except Exception as exc:
            orig = getattr(exc, "orig", None) or exc
            raise UsageError(
                f"the schema at {self.prior.label} could not be built: {type(orig).__name__}: "
                f"{str(orig).strip().splitlines()[0] if str(orig).strip() else ''}"
            ) from None
        finally:
            stepper.close()

    def seed(self) -> None:
        infos = catalog.read(self.control)
        if not infos or not self.opts.rows:
            return
        self.progress(f"seeding {self.opts.rows:,} rows into each of {len(infos)} tables")
        done = seed.seed(self.control, infos, self.opts.rows, self.rng)
        self.report.notes.extend(done.notes)
        for info in infos.values():
            if info.table.key_name not in done.rows:
                continue
            self.seeded.tables.add(info.name)
            if info.table.key:
                self.seeded.get(self.control, info.name, tuple(info.table.key), pools.KEY_SAMPLE + pools.PROBE_KEYS)
            for _cols, ref, refcols in info.table.fks:
                if len(refcols) == 1:
                    self.seeded.get(self.control, ref, (refcols[0],), pools.KEY_SAMPLE + pools.PROBE_KEYS)

    # -- releases -----------------------------------------------------------------------------------
    def enter(self, step: Step) -> None:
        self.step_value.value = step.index
        self.sampler.step = step.index
        for name in step.releases:
            if name not in self.running:
                self.deploy(name)
        for name in list(self.running):
            if name not in step.releases:
                self.retire(name)

    def prepare(self, name: str) -> None:
        """Start a release's workers ahead of need: they import the models and wait for their plan."""
        release = self.releases[name]
        fleet = Fleet(
            release,
            driver_url(self.url, release.driver),
            workers=self.opts.workers,
            step=self.step_value,
            rate=self.opts.rate,
            seed=self.opts.seed * 1000 + self.generation,
        )
        self.generation += self.opts.workers
        fleet.start()
        self.ready[name] = fleet

    def deploy(self, name: str) -> None:
        if name not in self.ready:
            self.prepare(name)
        fleet = self.ready.pop(name)
        tables = fleet.tables
        infos = catalog.read(self.control)
        unique = int(min(100_000, max(2_000, self.opts.rate * self.opts.seconds * len(self.steps))))
        plans = []
        for _ in range(self.opts.workers):
            plans.append(
                pools.plans(
                    self.control, tables, infos, self.seeded, worker=self.slots, unique_count=unique, rng=self.rng
                )
            )
            self.slots += 1
        for note in {n for p in plans[0] for n in p.notes}:
            self.report.notes.append(f"{name} release: {note}")
        fleet.go(plans)
        self.running[name] = fleet

    def retire(self, name: str, again: bool = True) -> None:
        fleet = self.running.pop(name)
        self.outcomes.setdefault(name, []).append(fleet.stop())
        if again and any(name in s.releases for s in self.steps[self.step_value.value + 1 :]):
            self.prepare(name)  # it comes back later (after the rollback): fresh processes, ready by then

    # -- one step -----------------------------------------------------------------------------------
    def execute(self, step: Step, renames: list[Rename]) -> None:
        self.progress(f"step {step.index + 1}/{len(self.steps)}: {step.label}")
        started = time.monotonic()
        probe: Probe | None = None
        if step.step == "both" and renames and {"old", "new"} <= set(self.running):
            probe = Probe(
                renames, self.running["old"].probe, self.running["new"].probe, self.reserved(renames), step.index
            )
            probe.start()
        try:
            if step.run is not None:
                self.run_phase(step)  # under traffic; then the step's seconds of traffic on its result
            if not self.failed:
                time.sleep(self.opts.seconds)
                self.await_traffic(step)
                if probe is not None:
                    probe.wait_round(PROBE_ROUND_TIMEOUT_S)
        finally:
            if probe is not None:
                probe.stop()
                self.divergences.extend(probe.found)
                names = ", ".join(str(r) for r in renames)
                self.report.notes.append(
                    f"{names}: {probe.checks} write(s) by one release read back through the other name by the "
                    f"other, {len(probe.found)} differed"
                )
        if step.step == "migrate" and not self.failed:
            self.compare_pairs(step, [r for r in renames if r.change == step.change])
        self.durations[step.index] = time.monotonic() - started

    def await_traffic(self, step: Step) -> None:
        """A step proves nothing about a release that did not run one operation in it (a loaded machine can
        starve a worker for the step's seconds): wait, within a bound, until each running release has."""
        deadline = time.monotonic() + TRAFFIC_WAIT_S
        while time.monotonic() < deadline:
            if all(fleet.operated_in(step.index) for fleet in self.running.values()):
                return
            time.sleep(0.01)

    def run_phase(self, step: Step) -> None:
        from expandcontract.phases.run import run_phase

        assert step.run is not None
        phase, slug = step.run

        def notify(message: str) -> None:
            if not message.startswith("warning: gate skipped on request"):
                self.progress(f"  {message}")

        try:
            run_phase(self.project, self.url, phase, slug, notify=notify, skip_gate_reason=SKIP_GATE)
        except ExpandContractError as exc:
            self.fail(step, str(exc))
        except Exception as exc:
            orig = getattr(exc, "orig", None) or exc
            self.fail(step, f"{type(orig).__name__}: {str(orig).strip()}")

    def fail(self, step: Step, message: str) -> None:
        self.failed = True
        self.report.problems.append(Problem("phase-failed", step.change, step.phase, None, message, step=step.step))

    def reserved(self, renames: list[Rename]) -> dict[str, list[tuple[Any, ...]]]:
        named = pools.by_model_name(catalog.read(self.control))
        out: dict[str, list[tuple[Any, ...]]] = {}
        for r in renames:
            info = named.get(r.table)
            if info is not None and info.table.key:
                keys = self.seeded.get(
                    self.control, info.name, tuple(info.table.key), pools.KEY_SAMPLE + pools.PROBE_KEYS
                )
                out[r.table] = keys[: pools.PROBE_KEYS]
        return out

    def compare_pairs(self, step: Step, renames: list[Rename]) -> None:
        named = pools.by_model_name(catalog.read(self.control))
        for r in renames:
            info = named.get(r.table)
            cols = {c.name for c in info.table.columns} if info else set()
            if info is None or not {r.old, r.new} <= cols:
                continue
            count, keys = differing_rows(self.control, info.name, r, tuple(info.table.key))
            if count:
                shown = ", ".join(str(k) for k in keys)
                self.divergences.append(
                    Divergence(
                        r,
                        f"after the migrate, {count:,} rows differ between {r.old} and {r.new} (e.g. {shown})",
                        step.index,
                    )
                )

    # -- the report ---------------------------------------------------------------------------------
    def assemble(self, steps: list[Step]) -> None:
        report = self.report
        stats = {name: _merge(o for o in outs) for name, outs in self.outcomes.items()}
        for step in steps:
            if step.index not in self.durations:
                continue
            for name in step.releases or (None,):
                st = stats.get(name or "", {}).get(step.index, StepStats())
                report.steps.append(
                    StepRow(
                        step.change,
                        step.phase,
                        step.step,
                        name,
                        st.ops,
                        st.errors,
                        round(_p99(st.latencies_ms), 2),
                        round(self.sampler.max_wait_ms(step.index, name or ""), 1),
                        round(self.durations[step.index], 2),
                    )
                )
                report.problems.extend(_app_errors(step, name, st))
        for name, outs in self.outcomes.items():
            for crash in (c for o in outs for c in o.crashes):
                report.problems.append(Problem("app-error", None, "expand", name, f"a traffic worker failed: {crash}"))
        self.stalls(steps)
        for d in self.divergences:
            step = steps[d.step]
            report.problems.append(
                Problem("divergence", d.rename.change, step.phase, None, f"{d.rename}: {d.message}", None, step.step)
            )
        if self.sampler.error:
            report.notes.append(f"lock waits were not sampled to the end: {self.sampler.error}")

    def stalls(self, steps: list[Step]) -> None:
        groups: dict[tuple[int, str, str], list[Any]] = {}
        for w in self.sampler.longer_than(self.opts.max_lock_wait_ms):
            groups.setdefault((w.step, w.release, w.blocker_query), []).append(w)
        for (index, release, blocker), waits in groups.items():
            step = steps[index]
            worst = max(waits, key=lambda w: w.waited_ms)
            self.report.problems.append(
                Problem(
                    "stall",
                    step.change,
                    step.phase,
                    release,
                    f"{len(waits)} app statement(s) waited up to {worst.waited_ms:,.0f} ms (limit "
                    f"{self.opts.max_lock_wait_ms:,.0f} ms) for {worst.lock or 'a lock'} held by the migration "
                    f"(pid {worst.blocker_pid}, {worst.blocker_state}); the app was running: "
                    f"{' '.join(worst.query.split())[:200]}",
                    " ".join(blocker.split()) or None,
                    step.step,
                    len(waits),
                )
            )


def _app_errors(step: Step, release: str | None, st: StepStats) -> list[Problem]:
    """One problem per error message: how many operations it failed, and its most frequent statement."""
    by_message: dict[str, list[tuple[int, str, str]]] = {}
    for (where, stmt, message), n in st.failures.items():
        by_message.setdefault(message, []).append((n, where, stmt))
    out: list[Problem] = []
    for message, hits in sorted(by_message.items(), key=lambda kv: -sum(h[0] for h in kv[1])):
        hits.sort(key=lambda h: -h[0])
        total = sum(h[0] for h in hits)
        others = f" ({len(hits)} statements; the most frequent below)" if len(hits) > 1 else ""
        text = f"{total:,} of {st.ops:,} operations failed: {hits[0][1]}: {message}{others}"
        out.append(Problem("app-error", step.change, step.phase, release, text, hits[0][2] or None, step.step, total))
    return out


def _merge(outcomes: Any) -> dict[int, StepStats]:
    merged: dict[int, StepStats] = {}
    for outcome in outcomes:
        for per_worker in outcome.stats:
            for index, st in per_worker.items():
                m = merged.setdefault(index, StepStats())
                m.ops += st.ops
                m.errors += st.errors
                m.latencies_ms.extend(st.latencies_ms)
                for sig, n in st.failures.items():
                    m.failures[sig] = m.failures.get(sig, 0) + n
    return merged


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[98]
