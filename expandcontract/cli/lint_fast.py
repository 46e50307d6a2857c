"""`lint` without click: the body of the command (shared with cli/lint.py) and a lean entry for .sql.

Editors and pre-commit hooks call `expandcontract lint FILE.sql` once per save or commit, so start-up is
most of its cost. `fast_lint(argv)` recognises the command lines that lint only .sql files or stdin with
the options it knows, runs them without importing click, and returns (doing nothing) for anything else:
revisions, no PATHS (the project), `--database-url`, `--since`, `--help`, an option or value it does not
know. The click command then parses the same argv, so usage errors and help stay click's.
"""

from __future__ import annotations

import os
import sys

from expandcontract import forked
from expandcontract.config_file import find_config_file
from expandcontract.errors import ExpandContractError, UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (5 ms of a 1-file lint)
if TYPE_CHECKING:
    from typing import Any

    from expandcontract.forked import Share
    from expandcontract.lint.api import LintResult

FORMATS = ("text", "json", "sarif", "github")
_CHOICES = {
    "--format": FORMATS,
    "--transaction": ("per-file", "none"),
    "--phase": ("expand", "migrate", "contract"),
}
_VALUED = {
    "--format": "fmt",
    "--pg-version": "pg_version",
    "--transaction": "transaction",
    "--schema": "schema_file",
    "--select": "select",
    "--ignore": "ignore_ids",
    "--phase": "phase",
    "--config": "config_path",
}


def _ids(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def rendered(fmt: str, result: LintResult) -> tuple[str, int]:
    """`lint`'s result -> (the document to print, the exit code)."""
    from expandcontract.lint.render import render

    return render(fmt, result.findings, result.files, result.not_analysable, result.json_tail), result.exit_code


def lint_result(
    paths: tuple[str, ...],
    fmt: str = "text",
    pg_version: int | None = None,
    transaction: str | None = None,
    schema_file: str | None = None,
    since: str | None = None,
    select: str | None = None,
    ignore_ids: str | None = None,
    phase: str | None = None,
    fail_on_not_analysable: bool | None = None,
    config_path: str | None = None,
    database_url: str | None = None,
    shares: list[Share] | None = None,
) -> LintResult:
    """`lint` -> its result. Raises ExpandContractError on bad input. `shares`: children already linting
    more of the .sql files (fast_lint), their results join this one."""
    from expandcontract.lint.api import LintOptions, LintResult, lint_paths, load_schema

    missing: list[str] = []
    if shares != []:  # [] is a worker's share (or one redone for it): the parent checked every path
        every = [*paths, *(p for share in shares or () for p in share.paths)]  # in command-line order
        missing = [p for p in every if p != "-" and not os.path.exists(p)]
    if missing:
        raise UsageError(f"{missing[0]}: no such file or directory")
    revisions = [p for p in paths if p.endswith(".py")]  # pre-commit passes staged revision files
    sql = [p for p in paths if not p.endswith(".py")]
    project = bool(revisions) or not paths
    # .sql files only, and no config file: the defaults, without loading the config machinery
    source = config_path if config_path is not None or project else find_config_file(os.getcwd())
    config = None
    settings: dict[str, Any] = {}
    if source is not None or project:
        from pathlib import Path

        from expandcontract.config import load_config

        config = load_config(Path(source) if source is not None else None)
        lc = config.lint
        settings = {
            "pg_version": lc.pg_version,
            "transaction": lc.transaction,
            "select": tuple(lc.select),
            "ignore": tuple(lc.ignore),
            "severity": dict(lc.severity),
            "downgrade": lc.downgrade,
            "fail_on_not_analysable": lc.fail_on_not_analysable,
        }
        if schema_file is None and lc.schema:
            schema_file = str(config.root / lc.schema)
    schema = load_schema(schema_file)
    if database_url:
        from expandcontract.sql.introspect import schema_from_database

        schema = schema_from_database(database_url)
    given = {
        "pg_version": pg_version,
        "transaction": transaction,
        "select": None if select is None else _ids(select),
        "ignore": None if ignore_ids is None else _ids(ignore_ids),
        "fail_on_not_analysable": fail_on_not_analysable,
    }
    settings.update({key: value for key, value in given.items() if value is not None})
    options = LintOptions(phase=phase, schema=schema, **settings)
    result = LintResult(0, [])
    if sql:
        stdin = read_stdin() if "-" in sql else None
        result = lint_paths(sql, options, stdin=stdin, parallel=shares is None)
    if shares and fmt == "json" and not project:  # render this share while the workers render theirs
        result = result.as_json_tail()
    for share in shares or ():
        result = result + share.result()
    if project and config is not None:
        from expandcontract.cli._stdout import stdout_to_stderr
        from expandcontract.lint.project import lint_project

        with stdout_to_stderr(fmt != "text"):  # revisions may print or log: one document on stdout
            result = result + lint_project(config, options, since=since, only=revisions or None)
    return result


def read_stdin() -> str:
    """stdin as UTF-8 text; other bytes are bad input (exit 2), as for a .sql file that is not UTF-8."""
    raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"cannot read -: stdin is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "PostgreSQL would reject it too: save the SQL as UTF-8"
        ) from None


def parse_fast(argv: list[str]) -> dict[str, Any] | None:
    """`lint`'s arguments -> lint_result()'s keyword arguments, or None when the click command should parse
    them (anything but .sql files / `-` with the value options above and --fail-on-not-analysable)."""
    kwargs: dict[str, Any] = {}
    paths: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in _VALUED:
            if not eq:
                if i + 1 >= len(argv):
                    return None
                i += 1
                value = argv[i]
            if name in _CHOICES and value not in _CHOICES[name]:
                return None
            if name == "--pg-version":
                if not (value.isascii() and value.isdigit()):  # else click says what is wrong (`abc`, `-1`, `²`)
                    return None
                kwargs["pg_version"] = int(value)
            else:
                kwargs[_VALUED[name]] = value
        elif arg == "--fail-on-not-analysable":
            kwargs["fail_on_not_analysable"] = True
        elif arg == "-" or not arg.startswith("-"):
            if arg.endswith(".py"):
                return None
            paths.append(arg)
        else:
            return None
        i += 1
    if not paths:
        return None
    kwargs["paths"] = tuple(paths)
    return kwargs


def fast_lint(argv: list[str], hard_exit: bool = False) -> None:
    """Lint and exit when parse_fast() accepts `argv`; return otherwise. Errors as cli/_common prints
    them: `error: ...` on stderr, and under --format json one error document on stdout, exit code.

    `hard_exit` (the console script, nothing else in the process): once the output is flushed, leave
    with os._exit instead of tearing the interpreter down module by module, a fifth of a short run."""
    kwargs = parse_fast(argv)
    if kwargs is None:
        return
    as_json = kwargs.get("fmt") == "json"
    if hard_exit:
        kwargs["paths"], kwargs["shares"] = _fork_shares(kwargs)
        _freeze_loaded()
    try:
        out, code = rendered(kwargs.get("fmt", "text"), lint_result(**kwargs))
    except ExpandContractError as exc:
        _error(str(exc), exc.exit_code, as_json, exc.details())
        _exit(exc.exit_code, hard_exit)
    except KeyboardInterrupt:
        _error("interrupted", 130, as_json, {})
        _exit(130, hard_exit)
    sys.stdout.write(out + "\n")
    _exit(code, hard_exit)


def _fork_shares(kwargs: dict[str, Any]) -> tuple[tuple[str, ...], list[Share] | None]:
    """Many .sql files (no directories, no stdin): fork children now, before the linter is loaded (see
    forked.py), each linting a share of them with the same options -> (this process's share, the
    children). A child that fails has its share linted again here, so every error is raised here."""
    paths: tuple[str, ...] = kwargs["paths"]
    workers = forked.workers()
    if len(paths) < forked.MIN_FILES or workers < 2:
        return paths, None
    if not all(p.endswith(".sql") for p in paths):  # stdin, revisions
        return paths, None  # (missing paths: lint_result checks every share's before reading any file)
    parts = forked.split(paths, workers)

    def work(share: list[str]) -> LintResult:
        _freeze_loaded()
        return lint_result(**{**kwargs, "paths": tuple(share), "shares": []})  # []: no more forks

    as_json = kwargs.get("fmt") == "json"
    return tuple(parts[0]), [forked.Share(part, work, as_json) for part in parts[1:]]


def _freeze_loaded() -> None:
    """Load the linter and its rules, then move every object they made out of the garbage collector's
    reach (gc.freeze): otherwise each collection while linting re-scans them, a third of the time spent
    on 1,000 files. Only for a process that exits when the lint is done (they are never freed anyway)."""
    import gc

    from expandcontract.lint.registry import all_rules

    all_rules()
    gc.freeze()


def _exit(code: int, hard: bool) -> None:
    if hard:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed pipe: what sys.exit would report as exit 120
            os._exit(120)
        os._exit(code)
    sys.stdout.flush()
    sys.exit(code)


def _error(message: str, code: int, as_json: bool, details: dict[str, object]) -> None:
    import json

    sys.stdout.flush()
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    if as_json:
        sys.stdout.write(json.dumps({"error": {"code": code, "message": message, **details}}, default=str) + "\n")
        sys.stdout.flush()
