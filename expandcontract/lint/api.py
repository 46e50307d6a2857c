"""The linter's entry points: lint SQL text, .sql paths, or a whole Alembic project.

The .sql path imports only pglast and this package's lint/sql modules: no SQLAlchemy, Alembic, rich or
kubernetes client (a test checks sys.modules), so `expandcontract lint *.sql` starts fast in editors and
pre-commit hooks. The project path imports Alembic lazily.
"""

from __future__ import annotations

import os
import stat

from expandcontract import forked
from expandcontract.errors import EXIT_OK, EXIT_PROBLEMS, UsageError
from expandcontract.lint.context import LintContext, MigrationState
from expandcontract.lint.engine import Unit, run
from expandcontract.lint.finding import ERROR, Finding
from expandcontract.lint.ignores import apply_ignores, find_ignores
from expandcontract.lint.meta import DYNAMIC_EXECUTE, NOT_ANALYSABLE, dynamic_executes, meta_finding
from expandcontract.lint.registry import Selection, all_rules
from expandcontract.record import Record
from expandcontract.sql.parse import parse
from expandcontract.sql.schema import SchemaModel

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

PHASES = ("expand", "migrate", "contract")
DEFAULT_PG_VERSION = 17


class LintOptions(Record):
    __slots__ = (
        "downgrade",
        "fail_on_not_analysable",
        "ignore",
        "pg_version",
        "phase",
        "schema",
        "select",
        "selection",
        "severity",
        "transaction",
    )
    _hidden = ("selection",)

    def __init__(
        self,
        pg_version: int = DEFAULT_PG_VERSION,
        transaction: str = "per-file",  # per-file | none (.sql files)
        phase: str | None = None,  # .sql files: the phase they belong to
        schema: SchemaModel | None = None,
        select: tuple[str, ...] = (),
        ignore: tuple[str, ...] = (),
        severity: dict[str, str] | None = None,
        downgrade: str = "warning",  # revisions' downgrade(): error | warning | off
        fail_on_not_analysable: bool = False,  # what the linter could not see is an error (CI)
    ) -> None:
        self.pg_version = pg_version
        self.transaction = transaction
        self.phase = phase
        self.schema = schema
        self.select = select
        self.ignore = ignore
        self.severity = severity if severity is not None else {}
        self.downgrade = downgrade
        self.fail_on_not_analysable = fail_on_not_analysable
        if self.pg_version < 10:
            raise UsageError(f"--pg-version {self.pg_version} is not supported; use 10 or later")
        if self.transaction not in ("per-file", "none"):
            raise UsageError(f"--transaction must be 'per-file' or 'none', not {self.transaction!r}")
        if self.phase is not None and self.phase not in PHASES:
            raise UsageError(f"--phase must be one of {', '.join(PHASES)}, not {self.phase!r}")
        if self.downgrade not in ("error", "warning", "off"):
            raise UsageError(f"downgrade severity must be 'error', 'warning' or 'off', not {self.downgrade!r}")
        self.selection = Selection(self.select, self.ignore, self.severity, self.downgrade)


class LintResult(Record):
    __slots__ = (
        "fail_on_not_analysable",
        "files",
        "findings",
        "json_tail",
        "not_analysable",
        "stats",
        "tail_errors",
    )

    def __init__(
        self,
        files: int,
        findings: list[Finding],
        not_analysable: int = 0,  # places the linter could not see (not-analysable findings)
        fail_on_not_analysable: bool = False,
        stats: Any = None,  # project lint: RenderStats (how many revisions rendered completely)
        json_tail: list[str] | None = None,  # findings after `findings`, rendered as JSON by forked workers
        tail_errors: bool = False,  # an error-severity finding is among them
    ) -> None:
        self.files = files
        self.findings = findings
        self.not_analysable = not_analysable
        self.fail_on_not_analysable = fail_on_not_analysable
        self.stats = stats
        self.json_tail = json_tail if json_tail is not None else []
        self.tail_errors = tail_errors

    @property
    def has_errors(self) -> bool:
        return self.tail_errors or any(f.severity == ERROR for f in self.findings)

    @property
    def exit_code(self) -> int:
        if self.fail_on_not_analysable and self.not_analysable:
            return EXIT_PROBLEMS
        return EXIT_PROBLEMS if self.has_errors else EXIT_OK

    def to_dict(self) -> dict[str, object]:
        return {
            "files": self.files,
            "findings": [f.to_dict() for f in self.findings],
            "not_analysable": self.not_analysable,
        }

    def as_json_tail(self) -> LintResult:
        """The same result with its findings rendered as the JSON document lists them (into json_tail),
        as a forked worker sends them, and as this process renders its own share while they do."""
        from expandcontract.lint.render import json_findings

        piece = json_findings(self.findings)
        return LintResult(
            self.files,
            [],
            self.not_analysable,
            self.fail_on_not_analysable,
            self.stats,
            [piece, *self.json_tail] if piece else list(self.json_tail),
            self.has_errors,
        )

    def __add__(self, other: LintResult) -> LintResult:
        if self.json_tail and other.findings:  # they would print before the tail, out of order
            raise ValueError("findings cannot follow findings already rendered as JSON")
        return LintResult(
            self.files + other.files,
            self.findings + other.findings,
            self.not_analysable + other.not_analysable,
            self.fail_on_not_analysable or other.fail_on_not_analysable,
            self.stats or other.stats,
            self.json_tail + other.json_tail,
            self.tail_errors or other.tail_errors,
        )


def lint_sql(sql: str, path: str = "-", options: LintOptions | None = None) -> list[Finding]:
    """Lint one SQL migration (one file's text)."""
    options = options or LintOptions()
    sel = options.selection
    findings: list[Finding] = []
    if "\x00" in sql:  # PostgreSQL's parser stops at a NUL: lint what follows it too, and say so
        before = sql[: sql.index("\x00")]
        line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        findings.append(
            meta_finding(
                "syntax-error",
                sel,
                path,
                line,
                col,
                "a NUL byte: PostgreSQL rejects the file here (invalid byte sequence 0x00)",
                ["Remove the NUL byte(s); the statements after it were linted as if it were a space."],
                phase=options.phase,
            )
        )
        sql = sql.replace("\x00", " ")
    parsed = parse(sql)
    if parsed.error is not None:
        err = parsed.error
        findings.append(
            meta_finding(
                "syntax-error",
                sel,
                path,
                err.line,
                err.column,
                f"PostgreSQL cannot parse this: {err.message}",
                ["Fix the SQL; nothing after this point was linted."],
                phase=options.phase,
            )
        )
    ctx = LintContext(
        pg_version=options.pg_version,
        phase=options.phase,
        change_has_expand=options.phase == "contract",
        alembic=False,
        schema=options.schema.copy() if options.schema else SchemaModel(),
        state=MigrationState(in_transaction=options.transaction == "per-file"),
    )
    findings += run([Unit(parsed.statements)], ctx, sel, path)
    for st in dynamic_executes(parsed.statements):
        findings.append(
            meta_finding(
                NOT_ANALYSABLE,
                sel,
                path,
                st.line,
                st.column,
                DYNAMIC_EXECUTE,
                ["Write the statement literally, or add an ignore with the reason it is safe."],
                phase=options.phase,
            )
        )
    if findings:
        findings = [f for f in findings if sel.enabled(f.rule)]
    ignores = find_ignores(sql)
    if ignores:  # else nothing to suppress and nothing to report (most files)
        findings = apply_ignores(
            findings,
            ignores,
            path,
            sel.enabled("unused-ignore"),
            sel.severity(all_rules()["unused-ignore"]),
            sel.severity(all_rules()["ignore-without-reason"]),
        )
    return sorted(findings, key=Finding.sort_key) if len(findings) > 1 else findings


def _lint_file(path: str, options: LintOptions) -> list[Finding]:
    try:
        text = _read(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    if "\r" in text:  # what text mode's universal newlines would have done
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return lint_sql(text, path, options)


_PIECE = 1 << 16


def _read(path: str) -> bytes:
    """The file's bytes through the os calls themselves: half the cost of open() and its buffered reader,
    which are a tenth of linting a short file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        # 64 KiB holds nearly every migration; a larger buffer is mapped and unmapped at every call.
        # Read to end of file: a read may return less before it (files under /proc, network mounts)
        chunks = []
        while chunk := os.read(fd, _PIECE):
            chunks.append(chunk)
        return b"".join(chunks)  # one piece: that bytes object itself, not a copy
    finally:
        os.close(fd)


def lint_paths(
    paths: Sequence[str], options: LintOptions | None = None, stdin: str | None = None, parallel: bool = True
) -> LintResult:
    """Lint .sql files (and `-` = `stdin`). Each file is one migration. Big inputs use every core
    (`parallel`: False when the caller already runs in one of several processes)."""
    options = options or LintOptions()
    files: list[str] = []
    findings: list[Finding] = []
    for p in paths:
        if p == "-":
            findings += lint_sql(stdin or "", "-", options)
            continue
        try:
            mode = os.stat(p).st_mode  # one stat per path: pre-commit passes thousands
        except OSError:
            raise UsageError(f"{p}: no such file or directory") from None
        if stat.S_ISDIR(mode):
            from pathlib import Path

            files += sorted(str(f) for f in Path(p).rglob("*.sql"))
        elif stat.S_ISREG(mode):
            files.append(p)
        else:
            raise UsageError(f"{p}: no such file or directory")
    workers = forked.workers() if parallel else 1
    if len(files) >= forked.MIN_FILES and workers > 1:
        findings += _parallel(files, options, workers)
    else:
        findings += _lint_chunk(files, options)
    result = LintResult(len(files) + paths.count("-"), findings)
    result.not_analysable = sum(f.rule == NOT_ANALYSABLE for f in findings)
    result.fail_on_not_analysable = options.fail_on_not_analysable
    return result


def _parallel(files: list[str], options: LintOptions, workers: int) -> list[Finding]:
    """Split the files between this process and forked children (forked.Share); the rules are loaded
    first, so no child imports them again."""
    all_rules()
    parts = forked.split(files, workers)
    children = [
        forked.Share(part, lambda paths: LintResult(len(paths), _lint_chunk(paths, options))) for part in parts[1:]
    ]
    findings = _lint_chunk(parts[0], options)
    for child in children:
        findings += child.result().findings
    return findings


def _lint_chunk(files: list[str], options: LintOptions) -> list[Finding]:
    out: list[Finding] = []
    for path in files:
        out += _lint_file(path, options)
    return out


def load_schema(path: str | None) -> SchemaModel | None:
    """`--schema FILE` -> SchemaModel (None when no file is given)."""
    if not path:
        return None
    from expandcontract.sql.schema import schema_from_ddl

    try:
        with open(path, encoding="utf-8") as fh:
            return schema_from_ddl(fh.read())
    except OSError as exc:
        raise UsageError(
            f"--schema {path}: cannot read it ({exc.strerror}); pass a pg_dump --schema-only file"
        ) from None
