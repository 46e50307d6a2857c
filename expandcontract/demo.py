"""`expandcontract demo`: the example application's history, walked through its whole life on an
embedded PostgreSQL, with a short narration of each step.

Works from any directory after a plain install: the example project ships as package data and is
copied into a temporary directory, which is removed at the end together with the server's data.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import click

from expandcontract.config import load_config
from expandcontract.db import embedded
from expandcontract.db.connect import connect

Say = Callable[[str], None]

SEED_USERS = 50_000


def copy_example(dest: Path) -> Path:
    """Copy the shipped example project (alembic.ini, pyproject.toml, migrations/, app/) into `dest`."""
    src = resources.files("expandcontract").joinpath("data", "example")
    with resources.as_file(src) as path:
        shutil.copytree(path, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


class Demo:
    def __init__(self, workdir: Path, url: str, say: Say) -> None:
        self.workdir = workdir
        self.url = url
        self.say = say
        self.config = load_config(start=workdir)
        self.step_no = 0

    def project(self) -> Any:
        from expandcontract.phases.project import load_project

        return load_project(self.config)

    def heading(self, text: str) -> None:
        self.step_no += 1
        self.say("")
        self.say(click.style(f"{self.step_no}. {text}", bold=True))

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with connect(self.url) as conn:
            cur = conn.execute(query, args)
            rows = cur.fetchall() if cur.description else []
            conn.commit()
        return rows

    def run(self, phase: str, change: str | None = None, project: Any = None, decider: Any = None) -> None:
        from expandcontract.phases.run import run_phase

        report = run_phase(
            project or self.project(), self.url, phase, change, decider=decider, notify=lambda m: self.say(f"   {m}")
        )
        for o in report.applied:
            self.say(f"   applied {o.revision} ({o.seconds:.2f}s)")

    def gated_contract(self, change: str) -> None:
        """The contract waits for a (simulated) rolling Deployment: blocked while old pods run."""
        import dataclasses

        from expandcontract.config import RolloutConfig
        from expandcontract.demo_rollout import rolling
        from expandcontract.errors import GateBlocked
        from expandcontract.gates.evaluate import assess, classifier_for
        from expandcontract.gates.model import Target
        from expandcontract.gates.objects import ObjectSet
        from expandcontract.phases.stamp import make_stamp

        project = self.project()
        project.config = dataclasses.replace(
            project.config, rollout=RolloutConfig(kind="Deployment", name="web", namespace="shop")
        )
        target = Target("Deployment", "web", "shop")
        final = make_stamp(project)
        ch = project.change(change)
        assert ch.contract is not None
        lane = [r.id for r in project.lanes["contract"]]
        before = lane[lane.index(ch.contract.id) - 1] if lane.index(ch.contract.id) else "-"
        old = final.rsplit("contract=", 1)[0] + f"contract={before}"
        self.say(f"   old pods are stamped {old}")
        self.say(f"   new pods are stamped {final}  (expandcontract heads --stamp)")
        for ready in (1, 3):
            objects = ObjectSet.of(rolling(old, final, new_ready=ready))
            self.say(f"   rollout of shop/web: {ready} of 3 pods on the new code")

            def decider(phase: str, chg: str, objects: Any = objects) -> Any:
                return assess(phase, chg, target, objects, classifier_for(project, chg))

            try:
                self.run("contract", change, project=project, decider=decider)
            except GateBlocked as exc:
                self.say(click.style(f"   gate blocked (exit {exc.exit_code}): ", fg="yellow") + str(exc))

    def lint(self) -> None:
        from expandcontract.lint import LintOptions, lint_project, lint_sql, render

        naive = "ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL;"
        self.say(f"   naive.sql: {naive}")
        for line in render("text", lint_sql(naive, "naive.sql", LintOptions()), 1).rstrip().splitlines():
            if line.strip():
                self.say(f"   {line}")
        result = lint_project(self.config, LintOptions())
        errors = sum(1 for f in result.findings if f.severity == "error")
        self.say(
            f"   the example's revisions follow those steps: `expandcontract lint` checked {result.files} "
            f"revisions, {errors} error(s)"
        )

    def verify(self) -> None:
        from expandcontract.db.url import with_database
        from expandcontract.verify import verify_project

        started = time.monotonic()
        report = verify_project(self.config, server_url=with_database(self.url, "postgres"), orders=("change",))
        data = report.to_dict()
        results = data.get("revisions", [])
        counts: dict[str, int] = {}
        for r in results:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        self.say(
            f"   upgrade, downgrade, upgrade of each revision, schema and data compared: {summary} "
            f"({time.monotonic() - started:.1f}s)"
        )
        for r in results:
            if r["status"] == "skipped":
                self.say(f"   skipped {r['revision']}: declared ec_reversible = False")

    def status(self) -> None:
        from expandcontract.phases.status import project_status

        st = project_status(self.project(), self.url)
        for c in st.changes:
            cells = "  ".join(f"{p}={s}" for p, s in c.phases.items())
            self.say(f"   {c.change:<22} {cells}")

    # -- the story -------------------------------------------------------------------------------
    def story(self) -> None:
        self.heading("An application with users and orders (expand lane, first revision)")
        self.run("expand", "initial-schema")
        self.sql(
            "INSERT INTO users (email, name) SELECT 'user' || g || '@example.com', 'User ' || g "
            "FROM generate_series(1, %s) g",
            SEED_USERS,
        )
        self.sql("INSERT INTO orders (user_id, total_cents) SELECT id, (id %% 500) * 100 FROM users")
        n = self.sql("SELECT count(*) FROM users")[0][0]
        self.say(f"   seeded {n:,} users and {n:,} orders")

        self.heading("Three changes are written as linked revisions (expand / migrate / contract)")
        for c in self.project().changes.values():
            phases = ", ".join(
                f"{p} {r.id}" for p in ("expand", "migrate", "contract") if (r := c.revision(p)) is not None
            )
            self.say(f"   {c.slug}: {phases}")

        self.heading("Why three revisions: the one-step migration, as the linter sees it")
        self.lint()

        self.heading("Every revision can be undone: verify on scratch databases (never this one)")
        self.verify()

        self.heading("Before the deploy: run expand (additive only; old code keeps working)")
        self.run("expand")
        self.say("   old code still inserts users with `name` only; the sync trigger fills full_name:")
        self.sql("INSERT INTO users (email, name) VALUES ('old-code@example.com', 'Old Code')")
        row = self.sql("SELECT name, full_name, email_verified FROM users WHERE email = 'old-code@example.com'")[0]
        self.say(f"   name={row[0]!r} full_name={row[1]!r} email_verified={row[2]!r}")
        self.status()

        self.heading("After the deploy (every pod dual-writes): run migrate, batched backfills")
        started = time.monotonic()
        self.run("migrate")
        missing = self.sql(
            "SELECT count(*) FILTER (WHERE email_verified IS NULL), "
            "count(*) FILTER (WHERE full_name IS NULL) FROM users"
        )[0]
        self.say(
            f"   done in {time.monotonic() - started:.1f}s; rows still missing a value: "
            f"email_verified {missing[0]}, full_name {missing[1]}"
        )

        self.heading("Contract users-full-name only once no pod needs users.name (rollout gate)")
        self.gated_contract("users-full-name")
        self.status()

        self.heading("Roll back: old code needs users.name again, so downgrade that contract")
        from expandcontract.phases.run import run_downgrade

        def confirm(plan: Any) -> bool:
            self.say(f"   undoes: {', '.join(r.id for r in plan.removed)}")
            return True

        run_downgrade(self.project(), self.url, "users-full-name", "contract", notify=self.say, confirm=confirm)
        row = self.sql("SELECT name, full_name FROM users WHERE email = 'user1@example.com'")[0]
        self.say(f"   users.name is back with its data: name={row[0]!r} full_name={row[1]!r}")

        self.heading("Roll forward again and finish every contract (orders.id becomes bigint)")
        self.run("contract")
        typ = self.sql(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'orders'::regclass AND attname = 'id'"
        )[0][0]
        self.say(f"   orders.id is now {typ}")
        self.status()


def run_demo(say: Say = click.echo, keep: bool = False) -> None:
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="expandcontract-demo-"))
    data_dir = tmp / "server"
    try:
        workdir = copy_example(tmp / "app")
        say(click.style("expandcontract demo", bold=True) + f": example project in {workdir}")
        say("starting an embedded PostgreSQL...")
        url = embedded.start(data_dir, fast=True)
        demo = Demo(workdir, url, say)
        demo.story()
        say("")
        say(click.style(f"demo finished in {time.monotonic() - started:.1f}s", fg="green"))
    finally:
        try:
            embedded.stop(data_dir)
        finally:
            if not keep:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print(f"kept {tmp}", file=sys.stderr)
