"""A user's project on a real PostgreSQL for recipe tests: its tables made by a first change written by
hand, populated, then a change written by a recipe, linted, verified and run phase by phase while the old
and the new release's traffic runs."""

from __future__ import annotations

import contextlib
import io
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expandcontract.config import Config, load_config
from expandcontract.db.connect import connect
from expandcontract.lint.api import LintOptions
from expandcontract.lint.project import lint_project
from expandcontract.phases import adopt, scaffold
from expandcontract.phases.project import load_project
from expandcontract.phases.run import run_phase
from expandcontract.recipes.api import new_change
from expandcontract.recipes.base import Recipe
from expandcontract.verify import verify_project
from expandcontract.verify.snapshot import take
from tests.recipes.traffic import Release, Traffic

SETUP = "app-schema"


@dataclass
class Project:
    root: Path
    url: str  # the application database
    server_url: str
    notes: list[str] = field(default_factory=list)

    @property
    def config(self) -> Config:
        return load_config(start=self.root)

    def setup(self, ddl: str, drop: str, seed: str = "") -> None:
        """The project's first change (written by hand, expand only) creates the tables; then the rows."""
        adopt.init(self.root)
        with contextlib.redirect_stdout(io.StringIO()):  # Alembic's "Generating ..."
            (made,) = scaffold.new(self.config, "the app's tables", SETUP, ("expand",))
        text = made.path.read_text()
        up = "\n".join(f"    op.execute({stmt.strip()!r})" for stmt in ddl.split(";") if stmt.strip())
        down = "\n".join(f"    op.execute({stmt.strip()!r})" for stmt in drop.split(";") if stmt.strip())
        text = text.replace("    # TODO: additive only", up + "\n    # additive only", 1)
        text = text.replace("    # TODO: undo the expand", down + "\n    # undo", 1)
        made.path.write_text(text)
        self.run("expand", SETUP)
        if seed:
            with connect(self.url) as conn:
                conn.execute(seed)
                conn.execute("ANALYZE")

    def new(self, change: str, *recipes: Recipe, message: str | None = None) -> dict[str, Path]:
        with contextlib.redirect_stdout(io.StringIO()):
            made = new_change(
                self.config,
                message or change.replace("-", " "),
                change,
                list(recipes),
                database_url=self.url,
                notify=self.notes.append,
            )
        return {m.phase: m.path for m in made}

    def run(self, phase: str, change: str) -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            run_phase(load_project(self.config), self.url, phase, change, notify=self.notes.append)

    def lint(self) -> list[str]:
        result = lint_project(self.config, LintOptions())
        return [f"{f.path}:{f.line}: {f.rule} {f.message}" for f in result.findings]

    def verify(self) -> list[str]:
        report = verify_project(self.config, server_url=self.server_url)
        return [f"{r.label()} {r.status}: {d}" for r in report.results for d in r.differences] + [
            f"{r.label()} {r.status}" for r in report.results if r.status not in ("pass", "lossy", "skipped")
        ]

    def catalog(self) -> dict[str, Any]:
        with connect(self.url) as conn:
            return take(conn)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with connect(self.url) as conn:
            return list(conn.execute(sql).fetchall())

    def query_commit(self, sql: str) -> None:
        with connect(self.url) as conn:
            conn.execute(sql)
            conn.commit()


def reference_catalog(server_url: str, ddl: str) -> dict[str, Any]:
    """The catalog a database gets from `ddl` alone: the intended end state, to compare with."""
    from tests.conftest import create_database, drop_database

    url = create_database(server_url, "ec_recipe_ref")
    try:
        with connect(url, autocommit=True) as conn:
            conn.execute(ddl)
            return take(conn)
    finally:
        drop_database(server_url, url)


@dataclass
class Run:
    old: Traffic
    new: Traffic

    @property
    def errors(self) -> list[str]:
        return self.old.errors + self.new.errors


def run_under_traffic(
    project: Project,
    change: str,
    old: Release,
    new: Release,
    *,
    rows: int,
    threads: int = 2,
    ops: int = 60,
    between: Callable[[str], None] | None = None,
) -> Run:
    """The deploy: expand while the old release serves; the new release joins; the old one leaves; migrate
    and contract while the new one serves. `between(phase)` runs after each phase, traffic still on."""
    workers = 2 * threads
    old_t = Traffic(project.url, old, first_worker=1, workers=workers, threads=threads, max_key=rows).start()
    new_t = Traffic(project.url, new, first_worker=threads + 1, workers=workers, threads=threads, max_key=rows)
    try:
        old_t.wait(ops)
        project.run("expand", change)
        old_t.wait(ops)
        if between:
            between("expand")
        new_t.start()
        new_t.wait(ops)
        old_t.wait(ops)
        old_t.stop()
        project.run("migrate", change)
        new_t.wait(ops)
        if between:
            between("migrate")
        project.run("contract", change)
        new_t.wait(ops)
        if between:
            between("contract")
    finally:
        old_t.stop()
        new_t.stop()
    return Run(old_t, new_t)


def dedent(text: str) -> str:
    return textwrap.dedent(text).strip()
