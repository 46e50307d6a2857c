"""Per revision: upgrade, downgrade, upgrade again on a scratch database, and compare.

For each revision, in the order being verified: snapshot, upgrade, snapshot, write sample rows,
downgrade, the snapshot must equal the one before the upgrade and the rows must survive over the
columns that existed before, upgrade again, the snapshot must equal the first post-upgrade one.
Everything happens in place in one working database (a revision that passes leaves it exactly where
the next one starts); only after a failure that leaves it untrustworthy is the working database
re-cloned from the clean template (`CREATE DATABASE ... TEMPLATE`) and the revisions verified so far
re-applied (see `_Session`).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from expandcontract.config import Config
from expandcontract.db.connect import connect
from expandcontract.db.resolve import app_driver
from expandcontract.errors import ExpandContractError, ProblemsFound
from expandcontract.phases.project import Project, Revision, load_project
from expandcontract.verify import data, snapshot
from expandcontract.verify.baseline import baseline_sql, load_baseline
from expandcontract.verify.diff import diff, downgrade_stage, reupgrade_stage
from expandcontract.verify.orders import ORDERS, sequence
from expandcontract.verify.report import Report, RevisionResult
from expandcontract.verify.scratch import ScratchServer, scratch_server
from expandcontract.verify.since import changed_revisions, unchanged_base
from expandcontract.verify.stepper import Stepper, check_env_py

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def verify_project(
    config: Config,
    *,
    server_url: str | None = None,
    orders: tuple[str, ...] = ORDERS,
    since: str | None = None,
    progress: Progress = _quiet,
    baseline: Path | None = None,
) -> Report:
    """Verify every revision of the project configured by `config` (see `verify`)."""
    project = load_project(config)
    return verify(project, server_url=server_url, orders=orders, since=since, baseline=baseline, progress=progress)


def verify(
    project: Project,
    *,
    server_url: str | None = None,
    orders: tuple[str, ...] = ORDERS,
    since: str | None = None,
    progress: Progress = _quiet,
    baseline: Path | None = None,
) -> Report:
    """Scratch databases on the embedded server (or `server_url`'s server), dropped afterwards. `baseline`:
    SQL (a `pg_dump --schema-only`) of what exists before the first revision, loaded first. SQLAlchemy and
    Alembic use the driver the app's URL names (`postgresql+psycopg2://`), else the default."""
    started = time.perf_counter()
    check_env_py(project)
    driver = app_driver(project.config, cli_url=server_url)
    if baseline is not None:
        baseline_sql(baseline)  # a bad file is one line before any server starts
    base: set[str] = set()
    if since is not None:
        changed = changed_revisions(project, since)
        base = unchanged_base(project, changed)
    plans: list[tuple[str, list[Revision]]] = []
    seen: dict[tuple[str, ...], str] = {}
    notes: list[str] = []
    for order in orders:
        revs = [r for r in sequence(project, order) if r.id not in base]
        key = tuple(r.id for r in revs)
        if key in seen:
            notes.append(f"{order} order is the same as {seen[key]} order here; verified once")
            continue
        seen[key] = order
        plans.append((order, revs))
    if since is not None:
        notes.append(f"{len(plans[0][1]) if plans else 0} revisions changed since {since}")
    with scratch_server(project.config, server_url) as server:
        report = Report(
            server=f"PostgreSQL {server.version}, {server.description}", orders=[o for o, _ in plans], since=since
        )
        report.notes.extend(notes)
        if baseline is not None:
            report.notes.append(f"started from the baseline {baseline}")
        if any(revs for _, revs in plans):
            template: str | None = None  # nothing to start from: clone template0, as CREATE DATABASE does
            if baseline is not None:
                progress(f"loading the baseline {baseline}")
                load_baseline(server.create("template"), baseline)
                template = "template"
            if base:
                progress(f"building the template from {len(base)} revisions unchanged since {since}")
                url = server.create("template") if template is None else server.url_of("template")
                try:
                    _apply(project, url, _heads(project, base), driver)
                except ExpandContractError:
                    raise
                except Exception as exc:
                    raise ProblemsFound(
                        f"building the template from the revisions unchanged since {since} failed: "
                        f"{_one_line(exc)}; run verify without --since to see which revision"
                    ) from None
                template = "template"
            for order, revs in plans:
                progress(f"verifying {len(revs)} revisions in {order} order")
                session = _Session(project, server, order, base, template, progress, driver)
                report.results.extend(session.run(revs))
    report.seconds = time.perf_counter() - started
    return report


def _heads(project: Project, ids: set[str]) -> list[str]:
    """The fewest revisions whose upgrade applies all of `ids`."""
    implied: set[str] = set()
    for rid in ids:
        implied |= project.ancestors([rid]) - {rid}
    return sorted(ids - implied)


def _apply(project: Project, url: str, targets: list[str], driver: str | None) -> None:
    stepper = Stepper(project, url, driver)
    try:
        stepper.upgrade_all(targets)
    finally:
        stepper.close()


def _one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(orig).__name__}: {first}" if first else type(orig).__name__


def _is_empty(fn: Any) -> bool:
    """A body of only `pass`, `...` and docstrings/comments (what `expandcontract new` writes)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return False
    func = tree.body[0]
    if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    return all(
        isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
        for stmt in func.body
    )


class _Failed(Exception):
    """This revision failed and left the working database in a state nobody can vouch for: re-clone."""


class _Session:
    """One order on one working database, re-cloned from the template after a failure that leaves it
    untrustworthy (an error, or an upgrade-again that does not reproduce the first upgrade's catalog).
    A failure whose upgrade-again restores exactly the first post-upgrade catalog (a default or a
    NOT VALID state the downgrade got wrong, lost data) continues in place: the database is then where
    a clean replay would put it."""

    def __init__(
        self,
        project: Project,
        server: ScratchServer,
        order: str,
        base: set[str],
        template: str | None,
        progress: Progress,
        driver: str | None = None,
    ):
        self.project = project
        self.driver = driver
        self.template = template
        self.server = server
        self.order = order
        self.applied = set(base)
        self.progress = progress
        self.counter: Iterator[int] = data.counter()
        self.clones = 0
        self.work = ""
        self.spare: Future[str] | None = None
        self.stepper: Stepper | None = None
        self.conn: Any = None
        self.current: snapshot.Snapshot | None = None

    def run(self, revs: list[Revision]) -> list[RevisionResult]:
        results: list[RevisionResult] = []
        broken: dict[str, str] = {}  # revision whose upgrade fails -> its error
        try:
            self._open(clone=False)
            for i, rev in enumerate(revs):
                result = self._result(rev)
                results.append(result)
                blocked = sorted(self.project.ancestors([rev.id]) & broken.keys())
                if blocked:
                    result.status = "not-run"
                    result.notes.append(f"not run: it needs {blocked[0]}, whose upgrade fails")
                    continue
                t0 = time.perf_counter()
                untrusted = False
                try:
                    self._check(rev, result)
                except _Failed:
                    untrusted = True
                if result.differences:
                    result.status = "fail"
                if result.status == "fail" and rev.id not in self.applied:
                    broken[rev.id] = result.differences[-1] if result.differences else "failed"
                result.seconds = time.perf_counter() - t0
                self.progress(
                    f"[{i + 1}/{len(revs)}] {result.status:8} {rev.short} {rev.change or ''} {rev.phase or ''}"
                    f" ({result.seconds * 1000:.0f} ms)"
                )
                if untrusted and i + 1 < len(revs):
                    try:
                        self._reclone()
                    except Exception as exc:
                        for later in revs[i + 1 :]:
                            skipped = self._result(later)
                            skipped.status = "not-run"
                            skipped.notes.append(f"not run: re-applying earlier revisions failed: {_one_line(exc)}")
                            results.append(skipped)
                        break
        finally:
            self._close()
            if self.work:
                self.server.drop_soon(self.work)
            # a spare clone still being made is dropped by the server's close()
        return results

    def _result(self, rev: Revision) -> RevisionResult:
        """A result for `rev`; its file relative to the project root when it is inside it."""
        try:
            where = str(rev.path.resolve().relative_to(self.project.root.resolve()))
        except ValueError:
            where = str(rev.path)
        return RevisionResult(rev.id, rev.change, rev.phase, self.order, where)

    # --- database lifecycle ---------------------------------------------------------------------

    def _next_name(self) -> str:
        return f"work_{self.order}_{self.clones}"

    def _open(self, *, clone: bool) -> None:
        """Switch to a fresh clone of the template: the spare one if there is one."""
        if self.spare is not None:
            url = self.spare.result()
        else:
            url = self.server.create(self._next_name(), template=self.template)
        self.work = self._next_name()
        self.clones += 1
        # after a failure that forced a re-clone, have the next clone ready (made in the background)
        self.spare = self.server.create_soon(self._next_name(), self.template) if clone else None
        self.stepper = Stepper(self.project, url, self.driver)
        self.conn = connect(url, autocommit=True)
        if clone:
            self.stepper.upgrade_all(_heads(self.project, self.applied))
        self.current = snapshot.take(self.conn)

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.stepper is not None:
            self.stepper.close()
            self.stepper = None

    def _reclone(self) -> None:
        self._close()
        self.server.drop_soon(self.work)
        self._open(clone=True)

    # --- one revision ---------------------------------------------------------------------------

    def _check(self, rev: Revision, result: RevisionResult) -> None:
        assert self.stepper is not None and self.current is not None
        module = rev.module
        needed = (self.project.ancestors([rev.id]) - {rev.id}) - self.applied
        if needed:
            self.stepper.upgrade_all(_heads(self.project, needed))
            self.applied |= self.project.ancestors([rev.id]) - {rev.id}
            self.current = snapshot.take(self.conn)
        before = self.current
        if rev.reversible is False:
            self._upgrade(rev, result)
            self.applied.add(rev.id)
            result.status = "skipped"
            reason = f": {rev.reason}" if rev.reason else " (no ec_reason given)"
            result.notes.append(f"ec_reversible = False{reason}; upgraded without checking the downgrade")
            self.current = snapshot.take(self.conn)
            return
        empty_up = _is_empty(getattr(module, "upgrade", None))
        declared = hasattr(module, "ec_reversible")
        self._upgrade(rev, result)
        self.applied.add(rev.id)
        after = snapshot.take(self.conn)
        if not empty_up and self.stepper.writes == 0 and after == before:
            # dialect-guarded (`if op.get_context().dialect.name == "sqlite"`): nothing to undo here
            empty_up = True
            result.notes.append("upgrade() does nothing on PostgreSQL; its downgrade is not required")
        samples = data.insert(self.conn, self.counter, after)
        result.notes.extend(samples.notes)
        columns = data.shared_columns(before, after)
        written = data.fingerprint(self.conn, columns, samples)
        if not empty_up and not declared and _is_empty(getattr(module, "downgrade", None)):
            result.differences.append(
                f"downgrade() of {rev.id} is empty but upgrade() is not: write the downgrade, or declare "
                "ec_reversible = 'lossy' or False (with ec_reason); if leaving the data is the undo (a backfill), "
                "declare ec_reversible = True"
            )
        try:
            self.stepper.downgrade(rev.id)
        except NotImplementedError:
            if empty_up:
                result.notes.append("downgrade() raises NotImplementedError; upgrade() does nothing either")
            else:
                result.differences.append(
                    f"downgrade() of {rev.id} raises NotImplementedError: write the downgrade, or declare "
                    "ec_reversible = False with ec_reason"
                )
            if snapshot.take(self.conn) != after:  # it changed something before raising
                raise _Failed from None
            data.delete(self.conn, samples)
            self.current = after
            return
        except Exception as exc:
            rows = f" (with sample rows in {len(samples.tables)} tables)" if samples.tables else ""
            result.differences.append(f"downgrade of {rev.id} failed{rows}: {_one_line(exc)}")
            raise _Failed from None
        result.differences.extend(diff(before, snapshot.take(self.conn), downgrade_stage(rev.id)))
        lost = data.compare(written, data.fingerprint(self.conn, columns, samples), rev.id)
        if rev.reversible == "lossy":
            result.notes.extend(f"{m} (allowed: ec_reversible = 'lossy')" for m in lost)
            if lost:
                result.status = "lossy"
        else:
            result.differences.extend(lost)
        try:
            self.stepper.upgrade(rev.id)
        except Exception as exc:
            result.differences.append(f"upgrading {rev.id} again after its downgrade failed: {_one_line(exc)}")
            raise _Failed from None
        again = snapshot.take(self.conn)
        not_reproduced = diff(after, again, reupgrade_stage(rev.id))
        if not_reproduced:
            result.differences.extend(not_reproduced)
            raise _Failed
        data.delete(self.conn, samples)
        self.current = again

    def _upgrade(self, rev: Revision, result: RevisionResult) -> None:
        assert self.stepper is not None
        try:
            self.stepper.upgrade(rev.id)
        except Exception as exc:
            result.differences.append(f"upgrade of {rev.id} failed: {_one_line(exc)}")
            raise _Failed from None
