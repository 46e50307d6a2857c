"""Bad and hostile input to `lint`: NUL bytes, binary files, paths that do not exist, revisions that print,
and a hypothesis fuzz run through `lint -` (no traceback, exit 0/1/2, one JSON document). The fuzz run
keeps a small example count here; benchmarks/lint_fuzz.py runs 2,000+."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expandcontract.cli import cli
from expandcontract.lint.api import lint_sql
from tests.lint.conftest import ProjectMaker
from tests.lint.test_alembic_rules import BASE

FUZZ_EXAMPLES = int(os.environ.get("EC_FUZZ_EXAMPLES", "60"))

SQL_PIECES = st.sampled_from(
    [
        "ALTER TABLE users ADD COLUMN c int",
        "DROP TABLE t",
        "CREATE INDEX i ON t (c)",
        "BEGIN",
        "COMMIT",
        "DO $$ BEGIN EXECUTE 'DROP TABLE x'; END $$",
        "VACUUM (FULL FALSE) t",
        "ALTER TABLE t ADD CONSTRAINT k CHECK (c IS NOT NULL) NOT VALID",
        "-- expandcontract: ignore[drop-table]",
        "'unterminated",
        "$$",
        "\x00",
        ";",
        "\n",
    ]
)


def invoke(args: list[str], stdin: str | bytes = "", cwd: Path | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = runner.invoke(cli, args, input=stdin, catch_exceptions=True)
    finally:
        os.chdir(old)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_sql_after_a_nul_byte_is_linted_and_the_nul_is_a_finding() -> None:
    found = [(f.rule, f.line) for f in lint_sql("SELECT 1;\x00\nALTER TABLE users DROP COLUMN email;", "m.sql")]
    assert found == [("syntax-error", 1), ("drop-column", 2)]


def test_a_binary_sql_file_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "bin.sql").write_bytes(b"\xff\xfe\x00\x01garbage\x89PNG")
    code, _, err = invoke(["lint", "--format", "json", "bin.sql"], cwd=tmp_path)
    assert code == 2 and "bin.sql" in err and len(err.strip().splitlines()) == 1 and "None:None" not in err


@pytest.mark.parametrize("name", ["missing.sql", "missing.py", "missing", "dir/missing.txt"])
def test_a_path_that_does_not_exist_exits_2(tmp_path: Path, name: str) -> None:
    code, _, err = invoke(["lint", name], cwd=tmp_path)
    assert code == 2 and name in err


def test_downgrades_are_linted_as_warnings(make_project: Callable[[], ProjectMaker]) -> None:
    p = make_project()
    p.add(BASE, change=None, phased=False)
    path = p.add('op.add_column("users", sa.Column("nick", sa.Text()))', change=None, phased=False)
    path.write_text(
        path.read_text().replace(
            "def downgrade():\n    pass",
            'def downgrade():\n    op.drop_column("users", "nick")\n    op.create_index("ix_age", "users", ["age"])',
        )
    )
    (p.root / "pyproject.toml").write_text("[tool.expandcontract]\n")
    code, out, _ = invoke(["lint", "--format", "json"], cwd=p.root)
    doc = json.loads(out)
    down = [(f["rule"], f["severity"]) for f in doc["findings"] if f["direction"] == "downgrade"]
    assert down == [("create-index-non-concurrently", "warning")]  # dropping what the upgrade added is fine
    assert code == 0
    (p.root / "pyproject.toml").write_text('[tool.expandcontract.lint]\ndowngrade = "error"\n')
    assert invoke(["lint"], cwd=p.root)[0] == 1


def test_what_revisions_print_goes_to_stderr_under_json(make_project: Callable[[], ProjectMaker]) -> None:
    p = make_project()
    p.add(BASE, change=None, phased=False)
    p.add('print("hello from the revision")\nop.drop_column("users", "age")', change=None, phased=False)
    (p.root / "pyproject.toml").write_text("[tool.expandcontract]\n")
    for fmt in ("json", "sarif"):
        code, out, err = invoke(["lint", "--format", fmt], cwd=p.root)
        json.loads(out)  # exactly one document
        assert "hello from the revision" in err and "hello" not in out and code == 1


def test_fail_on_not_analysable(make_project: Callable[[], ProjectMaker]) -> None:
    p = make_project()
    p.add(BASE, change=None, phased=False)
    p.add('op.get_bind().execute(sa.text("SELECT id FROM users")).fetchall()', change=None, phased=False)
    (p.root / "pyproject.toml").write_text("[tool.expandcontract]\n")
    code, out, _ = invoke(["lint", "--format", "json"], cwd=p.root)
    assert code == 0 and json.loads(out)["not_analysable"] == 1
    assert invoke(["lint", "--fail-on-not-analysable"], cwd=p.root)[0] == 1
    (p.root / "pyproject.toml").write_text("[tool.expandcontract.lint]\nfail_on_not_analysable = true\n")
    assert invoke(["lint"], cwd=p.root)[0] == 1


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), st.lists(SQL_PIECES, max_size=12).map(";".join)))
def test_fuzz_lint_stdin(sql: str) -> None:
    code, out, _ = invoke(["lint", "--format", "json", "-"], stdin=sql)
    assert code in (0, 1, 2)
    doc = json.loads(out)
    assert isinstance(doc, dict) and ("findings" in doc or "error" in doc)
