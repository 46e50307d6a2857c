"""The lean `.sql` entry (cli/lint_fast.py) prints byte for byte what the click command prints, with the
same exit code, and imports neither click nor anything heavy; what it does not know goes to click."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from ast import literal_eval
from pathlib import Path

import pytest

from expandcontract.cli.lint_fast import parse_fast

ROOT = Path(__file__).parents[2]
DROP = "ALTER TABLE users DROP COLUMN email;\n"

# `main` may take the lean path; `_group.cli.main` is always click
RUN = (
    "import sys\n"
    "from expandcontract.cli import main\n"
    "args = sys.argv[2:]\n"
    "try:\n"
    "    if sys.argv[1] == 'fast':\n"
    "        main(args)\n"
    "    from expandcontract.cli._group import cli\n"
    "    cli.main(args=args, prog_name='expandcontract')\n"
    "finally:\n"
    "    heavy = [m for m in ('click', 'sqlalchemy', 'alembic', 'rich', 'kubernetes', 'psycopg') if m in sys.modules]\n"
    "    print('HEAVY', heavy, file=sys.stderr)\n"
)


def run(mode: str, args: list[str], cwd: Path, stdin: str = "") -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-c", RUN, mode, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    err, _, heavy = proc.stderr.rpartition("HEAVY ")
    return proc.returncode, proc.stdout, err + "|" + heavy.strip()


CASES = [
    ["lint", "bad.sql"],
    ["lint", "--format", "json", "--pg-version", "15", "bad.sql", "ok.sql"],
    ["lint", "--format=sarif", "bad.sql"],
    ["lint", "--format", "github", "--transaction", "none", "bad.sql"],
    ["lint", "--format", "json", "--select", "drop-column", "--phase", "expand", "-"],
    ["lint", "--ignore=drop-column", "--fail-on-not-analysable", "bad.sql"],
    ["lint", "--format", "json", "missing.sql"],  # exit 2, one error document
    ["lint", "--format", "json", "--select", "no-such-rule", "bad.sql"],
    ["lint", "--pg-version", "9", "bad.sql"],
    ["lint", "--config", "other.toml", "--format", "json", "bad.sql"],
    ["lint", "--schema", "nope.sql", "bad.sql"],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c[1:]) for c in CASES])
def test_fast_path_matches_click(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "bad.sql").write_text(DROP + "CREATE INDEX ix ON users (name);\n")
    (tmp_path / "ok.sql").write_text("ALTER TABLE users ADD COLUMN nick text;\n")
    (tmp_path / "other.toml").write_text('[tool.expandcontract.lint]\nseverity = {"drop-column" = "warning"}\n')
    fast = run("fast", args, tmp_path, stdin=DROP)
    slow = run("click", args, tmp_path, stdin=DROP)
    assert fast[:2] == slow[:2]
    assert fast[2].split("|")[0] == slow[2].split("|")[0]  # the same stderr
    assert fast[2].endswith("[]"), fast[2]  # no click, no SQLAlchemy/Alembic/rich/kubernetes/psycopg
    assert "'click'" in slow[2]  # the comparison really went through click


@pytest.mark.parametrize(
    "args",
    [
        [],  # the project: Alembic
        ["versions/x.py"],
        ["--since", "HEAD", "a.sql"],
        ["--database-url", "postgresql://x/y", "a.sql"],
        ["--help"],
        ["--format", "yaml", "a.sql"],
        ["--pg-version", "abc", "a.sql"],
        ["--pg-version", "\u00b2", "a.sql"],
        ["--format"],
        ["--", "a.sql"],
        ["-x", "a.sql"],
    ],
)
def test_everything_else_goes_to_click(args: list[str]) -> None:
    assert parse_fast(args) is None


def test_parse_fast_reads_every_known_option() -> None:
    kwargs = parse_fast(
        [
            "--format=json",
            "a.sql",
            "--pg-version",
            "15",
            "--transaction=none",
            "--schema",
            "s.sql",
            "-",
            "--select",
            "a",
            "--ignore",
            "b",
            "--phase",
            "migrate",
            "--fail-on-not-analysable",
            "--config",
            "c.toml",
        ]
    )
    assert kwargs == {
        "fmt": "json",
        "pg_version": 15,
        "transaction": "none",
        "schema_file": "s.sql",
        "select": "a",
        "ignore_ids": "b",
        "phase": "migrate",
        "fail_on_not_analysable": True,
        "config_path": "c.toml",
        "paths": ("a.sql", "-"),
    }


def test_console_script_exits_with_the_code_and_whole_output(tmp_path: Path) -> None:
    """The script entry (main() with no argv) leaves through os._exit after flushing: nothing is lost."""
    for i in range(300):  # enough for the forked workers and a big document
        (tmp_path / f"m{i:03d}.sql").write_text(DROP)
    names = sorted(p.name for p in tmp_path.glob("*.sql"))
    code = "from expandcontract.cli import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "lint", "--format", "json", *names],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["files"] == 300 and len(doc["findings"]) == 300


STATEMENTS = [
    "ALTER TABLE t{i} DROP COLUMN c;\n",
    "CREATE INDEX ix{i} ON t{i} (c);\n",
    "ALTER TABLE t{i} ADD COLUMN c text;\n",  # no finding
    "ALTER TABLE t{i} ALTER COLUMN c SET NOT NULL;\n-- expandcontract: ignore[drop-table] stale\n",
]


def _console(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "from expandcontract.cli import main; main()"  # the console script: forks its workers first
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_workers_forked_at_start_report_what_one_process_reports(tmp_path: Path) -> None:
    """Every share's findings come back, in file order, with the counts: the same document as linting
    the files one by one in this process."""
    from expandcontract.lint.api import LintOptions, lint_paths
    from expandcontract.lint.render import render

    names = []
    for i in range(301):
        names.append(f"m{i:03d}.sql")
        (tmp_path / names[-1]).write_text(STATEMENTS[i % len(STATEMENTS)].format(i=i))
    proc = _console(["lint", "--format", "json", "--pg-version", "15", *names], tmp_path)
    here = os.getcwd()
    try:
        os.chdir(tmp_path)
        serial = lint_paths(names, LintOptions(pg_version=15), parallel=False)
    finally:
        os.chdir(here)
    assert proc.returncode == serial.exit_code == 1
    assert proc.stdout == render("json", serial.findings, serial.files, serial.not_analysable) + "\n"
    assert len({f.path for f in serial.findings}) > 200  # findings from every share


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_an_error_only_a_worker_found_sets_the_exit_code(tmp_path: Path, fmt: str) -> None:
    """The workers render their share as JSON and send only that text and whether it holds an error:
    the exit code still counts it (this process's own share is clean)."""
    names = []
    for i in range(300):
        names.append(f"m{i:03d}.sql")
        (tmp_path / names[-1]).write_text(DROP if i == 299 else "SELECT 1;\n")
    proc = _console(["lint", "--format", fmt, *names], tmp_path)
    assert proc.returncode == 1, proc.stderr
    if fmt == "json":
        doc = json.loads(proc.stdout)
        assert doc["files"] == 300 and [f["path"] for f in doc["findings"]] == ["m299.sql"]
    else:
        assert "m299.sql:1:1: drop-column" in proc.stdout
    (tmp_path / names[-1]).write_text("SELECT 1;\n")
    clean = _console(["lint", "--format", fmt, *names], tmp_path)
    assert clean.returncode == 0, clean.stderr
    if fmt == "json":
        assert json.loads(clean.stdout) == {"files": 300, "findings": [], "not_analysable": 0}


def test_a_missing_path_in_a_workers_share_is_one_error(tmp_path: Path) -> None:
    names = []
    for i in range(300):
        names.append(f"m{i:03d}.sql")
        (tmp_path / names[-1]).write_text(DROP)
    proc = _console(["lint", "--format", "json", *names, "gone.sql"], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("error: ") == 1 and "gone.sql: no such file or directory" in proc.stderr
    assert json.loads(proc.stdout)["error"]["code"] == 2


def test_a_worker_that_fails_has_its_share_linted_again_and_the_error_said_once(tmp_path: Path) -> None:
    names = []
    for i in range(300):
        names.append(f"m{i:03d}.sql")
        (tmp_path / names[-1]).write_text(DROP)
    (tmp_path / names[-1]).write_bytes(b"ALTER TABLE t DROP COLUMN \xff;\n")  # in the last worker's share
    proc = _console(["lint", "--format", "json", *names], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("error: ") == 1 and f"cannot read {names[-1]}" in proc.stderr
    assert json.loads(proc.stdout)["error"]["code"] == 2


def test_split_keeps_order_and_covers_everything() -> None:
    from expandcontract.forked import split

    items = [str(i) for i in range(11)]
    for parts in (1, 2, 3, 4):
        runs = split(items, parts)
        assert [x for run in runs for x in run] == items and len(runs) <= parts
        assert max(map(len, runs)) - min(map(len, runs)) <= 2


LEAN = (
    "import sys\n"
    "from expandcontract.cli import main\n"
    "try:\n"
    "    if sys.argv[1:] != ['--version']:\n"
    "        main(sys.argv[1:])\n"
    "finally:\n"
    "    loaded = ('expandcontract.config', 'tomllib', 'dataclasses', 'inspect', 'typing', 'pathlib')\n"
    "    print('LOADED', [m for m in loaded if m in sys.modules], file=sys.stderr)\n"
)


def _loaded(args: list[str], cwd: Path) -> tuple[str, str]:
    proc = subprocess.run(
        [sys.executable, "-c", LEAN, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return proc.stdout, proc.stderr.rpartition("LOADED ")[2].strip()


def test_sql_lint_without_a_config_loads_no_config_machinery(tmp_path: Path) -> None:
    """No config file anywhere up the tree: the defaults, without tomllib, dataclasses, typing, pathlib
    (a third of a one-file lint's start-up)."""
    (tmp_path / "bad.sql").write_text(DROP)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'app'\n")  # no [tool.expandcontract]
    out, loaded = _loaded(["lint", "--format", "json", "bad.sql"], tmp_path)
    assert json.loads(out)["findings"][0]["rule"] == "drop-column"
    # what the interpreter loads before our code (an editable install's finder imports pathlib)
    _, at_start = _loaded(["--version"], tmp_path)
    assert set(literal_eval(loaded)) <= set(literal_eval(at_start)), (loaded, at_start)
    assert "expandcontract.config" not in loaded


def test_sql_lint_reads_the_config_found_up_the_tree(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.expandcontract.lint]\nseverity = {"drop-column" = "warning"}\n'
    )
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "bad.sql").write_text(DROP)
    args = ["lint", "--format", "json", "bad.sql"]
    out, loaded = _loaded(args, tmp_path / "migrations")
    assert [f["severity"] for f in json.loads(out)["findings"]] == ["warning"]
    assert "expandcontract.config" in loaded
    assert run("fast", args, tmp_path / "migrations")[:2] == run("click", args, tmp_path / "migrations")[:2]


STDLIB_HEAVY = ("re", "json", "enum", "functools", "contextlib", "importlib.util", "typing", "dataclasses")
FIRING = {  # rules whose fix texts quote the statement, a DO block with EXECUTE, every output format's input
    "index.sql": "CREATE INDEX ix_users_email ON users (email);\n",
    "default.sql": "ALTER TABLE users ADD COLUMN seen timestamptz DEFAULT clock_timestamp() NOT NULL;\n",
    "check.sql": "ALTER TABLE users ADD CONSTRAINT positive CHECK (age > 0);\n",
    "not_valid.sql": (
        "ALTER TABLE users ADD COLUMN n int;\nALTER TABLE users ADD CONSTRAINT n_set CHECK (n IS NOT NULL) NOT VALID;\n"
    ),
    "do.sql": "DO $$ BEGIN EXECUTE 'ALTER TABLE users DROP COLUMN email'; END $$;\n",
    "comments.sql": "-- a comment\n/* and a block */\nALTER TABLE users ALTER COLUMN age TYPE bigint;\n",
}


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_sql_lint_loads_no_heavy_standard_library_module(tmp_path: Path, fmt: str) -> None:
    """As an installed wheel runs (no editable-install finder, which imports pathlib and re itself): the
    .sql path decodes and prints JSON through _json and quotes SQL without `re` (a quarter of a
    one-file lint's start-up), and still finds what it finds."""
    for name, sql in FIRING.items():
        (tmp_path / name).write_text(sql)
    import sysconfig

    paths = sysconfig.get_paths()
    code = (
        "import sys\n"
        "from expandcontract.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "finally:\n"
        f"    print('LOADED', [m for m in {STDLIB_HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code, "lint", "--format", fmt, *sorted(FIRING)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), paths["purelib"], paths["platlib"]])},
    )
    assert proc.returncode == 1, proc.stderr
    assert literal_eval(proc.stderr.rpartition("LOADED ")[2].strip()) == []
    rules = {
        "create-index-non-concurrently",
        "add-column-volatile-default",
        "add-check-validated",
        "not-valid-check-before-backfill",
        "drop-column",
        "change-column-type",
    }
    if fmt == "json":
        assert rules <= {f["rule"] for f in json.loads(proc.stdout)["findings"]}
    else:
        assert all(rule in proc.stdout for rule in rules)
        assert "INDEX CONCURRENTLY ix_users_email" in proc.stdout and "clock_timestamp()" in proc.stdout


def test_a_missing_path_is_said_before_an_unreadable_file_whichever_share_holds_it(tmp_path: Path) -> None:
    """As one process: every path is checked to exist before any file is read."""
    names = []
    for i in range(300):
        names.append(f"m{i:03d}.sql")
        (tmp_path / names[-1]).write_text(DROP)
    (tmp_path / names[1]).write_bytes(b"\xff\xfe")  # this process's share
    proc = _console(["lint", "--format", "json", *names, "gone.sql"], tmp_path)  # gone.sql: the worker's
    assert proc.returncode == 2
    assert "gone.sql: no such file or directory" in proc.stderr and "cannot read" not in proc.stderr


def test_a_json_share_whose_worker_died_is_linted_here_and_printed_in_its_place(tmp_path: Path) -> None:
    """Three shares, the middle worker killed: its share is linted again in this process and rendered
    as JSON after the first worker's JSON, so the document equals one process's."""
    from expandcontract import forked
    from expandcontract.lint.api import LintOptions, LintResult, lint_paths
    from expandcontract.lint.render import render

    names = []
    for i in range(30):
        names.append(str(tmp_path / f"m{i:02d}.sql"))
        Path(names[-1]).write_text(STATEMENTS[i % len(STATEMENTS)].format(i=i))
    options = LintOptions(pg_version=15)
    parent = os.getpid()
    doomed = names[20:]

    def work(paths: list[str]) -> LintResult:
        if paths == doomed and os.getpid() != parent:
            os._exit(9)  # the worker dies (killed, out of memory) before sending anything
        return lint_paths(paths, options, parallel=False)

    shares = [forked.Share(names[10:20], work, as_json=True), forked.Share(doomed, work, as_json=True)]
    result = lint_paths(names[:10], options, parallel=False)
    for share in shares:
        result = result + share.result()
    serial = lint_paths(names, options, parallel=False)
    assert serial.findings[-1].path in doomed  # the dead worker's share had findings
    assert render("json", result.findings, result.files, result.not_analysable, result.json_tail) == render(
        "json", serial.findings, serial.files, serial.not_analysable
    )
    assert result.exit_code == serial.exit_code
