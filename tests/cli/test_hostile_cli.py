"""Hostile project files and arguments: one line, the right exit code, no traceback, and under
`--format json` exactly one JSON document on stdout."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from expandcontract.cli import cli

Edit = Callable[[Path], None]


def invoke(args: list[str], fmt: str | None = None) -> Result:
    return CliRunner().invoke(cli, [*args, *(["--format", fmt] if fmt else [])])


def assert_one_line_error(r: Result, code: int, needle: str, fmt: str | None) -> str:
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr, r.exception)
    assert isinstance(r.exception, SystemExit), r.exception  # not an uncaught exception
    assert "Traceback" not in r.stderr and "None:None" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith(("error: ", "Error: "))]  # Error: click usage
    assert len(errors) == 1 and needle in errors[0], r.stderr
    if fmt == "json":
        doc = json.loads(r.stdout)  # exactly one document: json.loads refuses trailing data
        assert doc["error"]["code"] == code and needle in doc["error"]["message"]
    return errors[0]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert invoke(["init"]).exit_code == 0
    r = invoke(["new", "add t", "--change", "t-one"])
    assert r.exit_code == 0, r.stderr
    return tmp_path


def lane_file(root: Path, lane: str) -> Path:
    (path,) = (root / "migrations" / "versions" / lane).glob("*.py")
    return path


def sub(lane: str, pattern: str, repl: str) -> Edit:
    def edit(root: Path) -> None:
        path = lane_file(root, lane)
        text, n = re.subn(pattern, repl, path.read_text(), flags=re.M)
        assert n, f"{pattern!r} not in {path}"
        path.write_text(text)

    return edit


def append(lane: str, code: str) -> Edit:
    def edit(root: Path) -> None:
        path = lane_file(root, lane)
        path.write_text(path.read_text() + "\n" + code + "\n")

    return edit


def binary(root: Path) -> None:
    (root / "migrations" / "versions" / "expand" / "zz_blob.py").write_bytes(bytes(range(256)) * 3)


BROKEN: dict[str, tuple[Edit, str]] = {
    "unknown-down-revision": (
        sub("expand", r"^down_revision = None", "down_revision = 'deadbeef'"),
        "down_revision 'deadbeef' names no revision file",
    ),
    "missing-down-revision": (sub("migrate", r"^down_revision = .*$", ""), "no down_revision; add `down_revision"),
    "revision-none": (sub("migrate", r"^revision = .*$", "revision = None"), "revision = None; a revision file needs"),
    "raises-at-import": (
        append("migrate", "raise RuntimeError('boom at import')"),
        "the revision file raised RuntimeError: boom at import when imported",
    ),
    "exits-at-import": (append("contract", "import sys\nsys.exit(7)"), "the revision file called sys.exit() when"),
    "binary-file": (binary, "zz_blob.py: binary content (NUL bytes) in the versions directory; remove the file"),
}


@pytest.mark.parametrize("fmt", [None, "json"])
@pytest.mark.parametrize("command", [["status"], ["heads", "--stamp"], ["lint"], ["plan", "expand"]])
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_revision_files_are_one_line(project: Path, case: str, command: list[str], fmt: str | None) -> None:
    edit, needle = BROKEN[case]
    edit(project)
    if command[0] == "heads" and case.endswith("-at-import"):
        # heads --stamp reads the files without executing them (phases/static.py): the stamp is still right
        r = invoke(command)
        assert r.exit_code == 0 and r.stdout.startswith("expand=")
        return
    if command == ["heads", "--stamp"] and fmt:
        command = ["heads"]  # --stamp prints the stamp alone; `heads` has --format
    url = [] if command == ["lint"] else ["--database-url", "postgresql://u@127.0.0.1:1/x"]  # lint: no schema
    r = invoke([*command, *url], fmt)
    line = assert_one_line_error(r, 2, needle, fmt)
    assert str(project) in line  # names the file


@pytest.mark.parametrize("fmt", [None, "json"])
@pytest.mark.parametrize("limit", ["-5", "0", "99999999999999999999", "abc"])
def test_history_limit_out_of_range(project: Path, limit: str, fmt: str | None) -> None:
    r = invoke(["history", "--limit", limit, "--database-url", "postgresql://u@127.0.0.1:1/x"], fmt)
    assert_one_line_error(r, 2, "--limit", fmt)


@pytest.mark.parametrize("fmt", [None, "json"])
def test_init_in_proc_self(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str | None) -> None:
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke(["init", "/proc/self"], fmt), 2, "init could not write", fmt)


@pytest.mark.parametrize("fmt", [None, "json"])
def test_gate_snapshot_of_a_binary_file(project: Path, fmt: str | None) -> None:
    blob = project / "snapshot.yaml"
    blob.write_bytes(b"\x00\xff\xfe" + bytes(range(256)))
    args = ["gate", "migrate", "--change", "t-one", "--target", "Deployment/default/web", "--snapshot", str(blob)]
    assert_one_line_error(invoke(args, fmt), 2, "snapshot.yaml", fmt)


@pytest.mark.parametrize("fmt", [None, "json"])
def test_sql_after_a_nul_byte_is_a_finding(project: Path, fmt: str | None) -> None:
    sql = project / "m.sql"
    sql.write_bytes(b"ALTER TABLE t ADD COLUMN a int;\x00\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\n")
    r = invoke(["lint", str(sql)], fmt)
    assert r.exit_code == 1, r.stderr
    out = r.stdout
    if fmt == "json":
        rules = [f["rule"] for f in json.loads(out)["findings"]]
        assert rules == ["syntax-error", "set-not-null"]  # the statement after the NUL byte was linted
    else:
        assert "NUL byte" in out and "set-not-null" in out


@pytest.mark.parametrize("fmt", [None, "json"])
def test_sys_exit_inside_upgrade_is_a_failed_phase_with_nothing_applied(
    project: Path, database_url: str, fmt: str | None
) -> None:
    sub("expand", r"^    pass$", "    op.execute('CREATE TABLE t1 (id int)')\n    import sys\n    sys.exit(7)")(project)
    r = invoke(["run", "expand", "--database-url", database_url], fmt)
    assert_one_line_error(r, 1, "its upgrade() called sys.exit(7); raise an exception instead", fmt)
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT to_regclass('t1')").fetchone() == (None,)
        rows = conn.execute("SELECT outcome, error FROM expandcontract.runs").fetchall()
    assert [o for o, _ in rows] == ["failed"] and "sys.exit(7)" in rows[0][1]


def test_rerun_when_the_audit_id_sequence_is_behind(project: Path, database_url: str) -> None:
    """After crash recovery on a server without fsync, or a restored dump, `runs`' id sequence can be behind
    the table: the next run's audit id collides. It must move the sequence on and run."""
    assert invoke(["run", "expand", "--change", "t-one", "--database-url", database_url]).exit_code == 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT setval(pg_get_serial_sequence('expandcontract.runs', 'id'), 1, false)")
    r = invoke(["run", "migrate", "--change", "t-one", "--database-url", database_url])
    assert r.exit_code == 0, (r.stderr, r.exception)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT id, phase, outcome FROM expandcontract.runs ORDER BY id").fetchall()
    assert [(p, o) for _i, p, o in rows] == [("expand", "succeeded"), ("migrate", "succeeded")]


@pytest.mark.parametrize(
    ("section", "line"),
    [("ddl", "retry_budget_s = -10"), ("ddl", "lock_timeout_ms = -5"), ("backfill", "range_rows = 0")],
)
def test_out_of_range_config_applies_nothing(project: Path, database_url: str, section: str, line: str) -> None:
    """`retry_budget_s = -10` used to start a revision and give up half-way: now nothing touches the database."""
    sub("expand", r"^    pass$", "    op.execute('CREATE TABLE t1 (id int)')")(project)
    pyproject = project / "pyproject.toml"
    header = f"[tool.expandcontract.{section}]"
    text = pyproject.read_text()
    key = line.split(" = ")[0]
    text = re.sub(rf"^{key} = .*$", "", text, flags=re.M)  # init may have written the key already
    text = text.replace(header, f"{header}\n{line}") if header in text else f"{text}\n{header}\n{line}\n"
    pyproject.write_text(text)
    r = invoke(["run", "expand", "--database-url", database_url], "json")
    assert_one_line_error(r, 2, f"{line.split(' = ')[0]} = ", "json")
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT to_regclass('t1'), to_regclass('alembic_version'), to_regnamespace('expandcontract')"
        )
        assert row.fetchone() == (None, None, None)


def test_sys_exit_inside_upgrade_under_verify_is_a_failed_revision(project: Path, pg_server_url: str) -> None:
    sub("expand", r"^    pass$", "    import sys\n    sys.exit(7)")(project)
    r = invoke(["verify", "--database-url", pg_server_url], "json")
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), (r.stderr, r.exception)
    doc = json.loads(r.stdout)
    assert "called sys.exit(7); raise an exception instead" in json.dumps(doc)


@pytest.mark.parametrize("fmt", [None, "json"])
def test_sys_exit_inside_upgrade_under_plan_is_shown_in_place_of_its_sql(
    project: Path, database_url: str, fmt: str | None
) -> None:
    sub("expand", r"^    pass$", "    import sys\n    sys.exit(7)")(project)
    r = invoke(["plan", "expand", "--database-url", database_url], fmt)
    assert r.exit_code == 0 and r.exception is None, (r.stderr, r.exception)
    out = json.dumps(json.loads(r.stdout)) if fmt == "json" else r.stdout
    assert "cannot render offline: upgrade() called sys.exit(7)" in out


@pytest.mark.parametrize("fmt", [None, "json"])
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["backfill", "work", "x", "--wait", "nan"], "--wait"),  # waited forever
        (["backfill", "work", "x", "--wait", "inf"], "--wait"),
        (["backfill", "work", "x", "--wait", "-5"], "--wait"),
        (["rehearse", "--new-models", "m.py:metadata", "--seconds", "nan"], "--seconds"),
        (["rehearse", "--new-models", "m.py:metadata", "--seconds", "inf"], "--seconds"),
        (["rehearse", "--new-models", "m.py:metadata", "--max-lock-wait-ms", "nan"], "--max-lock-wait-ms"),
        (["gate", "migrate", "--change", "t-one", "--target", "Deployment/d/w", "--wait", "nan"], "invalid duration"),
        (["gate", "migrate", "--change", "t-one", "--target", "Deployment/d/w", "--wait", "inf"], "invalid duration"),
        (["gate", "migrate", "--change", "t-one", "--target", "Deployment/d/w", "--wait", "-5"], "invalid duration"),
    ],
)
def test_non_finite_numbers_on_the_command_line(project: Path, args: list[str], needle: str, fmt: str | None) -> None:
    r = invoke([*args, "--database-url", "postgresql://u@127.0.0.1:1/x"], fmt)
    assert_one_line_error(r, 2, needle, fmt)
