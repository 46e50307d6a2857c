"""Linting .sql files on every core: forked children, each linting a share of the files.

`Share(paths, work)` forks a child that runs `work(paths)` (a LintResult) and sends back the findings
as marshalled rows, or with `as_json` as the text the JSON document lists them with (rendering 1,000
files' findings is a tenth of the run: each process renders its own share, at once); `.result()` waits
for it and, when the child failed in any way, runs `work(paths)` in this process instead, so an error
(an unreadable file, a missing path) is raised here exactly as without children.

Fork as early as possible: a child forked after the linter is loaded touches the parent's objects
(every reference count it changes copies a page, copy-on-write) and ran its 500 files 1.6x slower than
the parent on the 2-core benchmark machine. Forked before anything is imported (cli/lint_fast.py), each
child loads the linter itself, in parallel with the parent, and touches only its own pages. This module
imports nothing heavy for that reason.
"""

from __future__ import annotations

import marshal
import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from expandcontract.lint.api import LintResult

MIN_FILES = 200  # below this, a child costs more than the second core saves


def workers() -> int:
    """How many processes may lint at once: the cores this process may use, at most 4."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, 4) if hasattr(os, "fork") else 1


def split(items: Sequence[str], parts: int) -> list[list[str]]:
    """`items` in `parts` consecutive runs of (nearly) equal length, in order."""
    size = -(-len(items) // parts)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class Share:
    def __init__(self, paths: list[str], work: Callable[[list[str]], LintResult], as_json: bool = False) -> None:
        """`as_json`: the child renders its findings as the JSON document lists them (in parallel with
        this process rendering its own), and sends that text instead of the findings."""
        self.paths = paths
        self.work = work
        self.as_json = as_json
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: lint, send, leave without running the parent's exit handlers
            os.close(read_fd)
            code = 0
            try:
                result = work(paths)
                if as_json:
                    rendered = result.as_json_tail()
                    sent: tuple[list[str], bool] | list[tuple[object, ...]] = (
                        rendered.json_tail,
                        rendered.tail_errors,
                    )
                else:
                    sent = [finding.row() for finding in result.findings]
                payload = marshal.dumps((result.files, result.not_analysable, as_json, sent))
            except BaseException:
                payload, code = b"", 1
            try:
                with os.fdopen(write_fd, "wb") as out:
                    out.write(payload)
            finally:
                os._exit(code)
        os.close(write_fd)
        self.pid = pid
        self.read_fd = read_fd

    def result(self) -> LintResult:
        from expandcontract.lint.api import LintResult
        from expandcontract.lint.finding import Finding

        with os.fdopen(self.read_fd, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(self.pid, 0)
        if status != 0 or not payload:
            redone = self.work(self.paths)
            return redone.as_json_tail() if self.as_json else redone  # JSON after others' JSON
        files, not_analysable, as_json, sent = marshal.loads(payload)
        if as_json:
            pieces, errors = sent
            return LintResult(files, [], not_analysable, json_tail=pieces, tail_errors=errors)
        return LintResult(files, [Finding(*row) for row in sent], not_analysable)
