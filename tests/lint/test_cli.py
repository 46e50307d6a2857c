"""The CLI contract: formats, exit codes, stdin, options, `rule`, and that the .sql path never imports
SQLAlchemy, Alembic, rich or the kubernetes client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from expandcontract.cli import cli
from expandcontract.lint.registry import all_rules

DROP = "ALTER TABLE users DROP COLUMN email;\n"


def run(args: list[str], input: str | None = None, cwd: Path | None = None) -> tuple[int, str]:
    runner = CliRunner()
    old = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        result = runner.invoke(cli, args, input=input, catch_exceptions=False)
    finally:
        os.chdir(old)
    return result.exit_code, result.output


def test_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sql"
    bad.write_text(DROP)
    ok = tmp_path / "ok.sql"
    ok.write_text("ALTER TABLE users ADD COLUMN nick text;\n")
    warn = tmp_path / "warn.sql"
    warn.write_text("-- expandcontract: ignore[drop-table] not needed\nSELECT 1;\n")
    assert run(["lint", str(ok)], cwd=tmp_path)[0] == 0
    assert run(["lint", str(warn)], cwd=tmp_path)[0] == 0  # warnings only
    assert run(["lint", str(bad)], cwd=tmp_path)[0] == 1
    assert run(["lint", str(tmp_path / "missing.sql")], cwd=tmp_path)[0] == 2
    assert run(["lint", "--select", "no-such-rule", str(ok)], cwd=tmp_path)[0] == 2
    assert run(["lint", "--pg-version", "9", str(ok)], cwd=tmp_path)[0] == 2


def test_stdin_and_text_format(tmp_path: Path) -> None:
    code, out = run(["lint", "-"], input=DROP, cwd=tmp_path)
    assert code == 1
    assert out.splitlines()[0].startswith("-:1:1: drop-column Dropping column email from users")
    assert "  fix:\n    1. Expand:" in out


def test_json_contract(tmp_path: Path) -> None:
    code, out = run(["lint", "--format", "json", "-"], input=DROP, cwd=tmp_path)
    doc = json.loads(out)
    assert code == 1 and doc["files"] == 1
    (f,) = doc["findings"]
    assert set(f) == {
        "path",
        "line",
        "column",
        "rule",
        "severity",
        "message",
        "why",
        "fix",
        "lock",
        "table",
        "phase",
        "revision",
        "direction",
    }
    assert (f["rule"], f["severity"], f["table"], f["revision"]) == ("drop-column", "error", "users", None)
    assert f["direction"] == "upgrade" and doc["not_analysable"] == 0


def test_sarif_and_github(tmp_path: Path) -> None:
    (tmp_path / "m.sql").write_text(DROP)
    _, out = run(["lint", "--format", "sarif", "m.sql"], cwd=tmp_path)
    doc = json.loads(out)
    result = doc["runs"][0]["results"][0]
    assert doc["version"] == "2.1.0" and result["ruleId"] == "drop-column"
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 1, "startColumn": 1}
    assert doc["runs"][0]["tool"]["driver"]["rules"][0]["id"] == "drop-column"
    _, out = run(["lint", "--format", "github", "m.sql"], cwd=tmp_path)
    assert out.startswith("::error file=m.sql,line=1,col=1,title=drop-column::Dropping column email")


def test_select_ignore_phase_and_config_severity(tmp_path: Path) -> None:
    sql = "CREATE INDEX i ON users (email);\n" + DROP
    _, out = run(["lint", "--format", "json", "--ignore", "drop-column", "-"], input=sql, cwd=tmp_path)
    assert [f["rule"] for f in json.loads(out)["findings"]] == ["create-index-non-concurrently"]
    _, out = run(["lint", "--format", "json", "--select", "drop-column", "-"], input=sql, cwd=tmp_path)
    assert [f["rule"] for f in json.loads(out)["findings"]] == ["drop-column"]
    _, out = run(["lint", "--format", "json", "--phase", "expand", "-"], input=DROP, cwd=tmp_path)
    assert [(f["rule"], f["phase"]) for f in json.loads(out)["findings"]] == [
        ("destructive-outside-contract", "expand")
    ]
    (tmp_path / "pyproject.toml").write_text(
        '[tool.expandcontract.lint]\npg_version = 10\nseverity = {"drop-column" = "warning"}\n'
    )
    code, out = run(["lint", "--format", "json", "-"], input=DROP + "ALTER TABLE t ADD c int DEFAULT 1;", cwd=tmp_path)
    found = {f["rule"]: f["severity"] for f in json.loads(out)["findings"]}
    assert found == {"drop-column": "warning", "add-column-volatile-default": "error"}  # pg 10 from config
    assert code == 1


def test_schema_option(tmp_path: Path) -> None:
    (tmp_path / "schema.sql").write_text(
        "CREATE TABLE public.users (id bigint NOT NULL, email character varying(50));\n"
        "ALTER TABLE ONLY public.users ADD CONSTRAINT users_email_nn CHECK ((email IS NOT NULL));\n"
    )
    sql = "ALTER TABLE users ALTER COLUMN email TYPE varchar(80);\nALTER TABLE users ALTER COLUMN email SET NOT NULL;"
    assert run(["lint", "-"], input=sql, cwd=tmp_path)[0] == 1
    assert run(["lint", "--schema", "schema.sql", "-"], input=sql, cwd=tmp_path)[0] == 0


def test_database_url_introspects_live_schema(database_url: str, tmp_path: Path) -> None:
    from expandcontract.db.connect import connect

    with connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id int, email varchar(50), CONSTRAINT nn CHECK (email IS NOT NULL))")
    sql = "ALTER TABLE users ALTER COLUMN email TYPE varchar(80);\nALTER TABLE users ALTER COLUMN email SET NOT NULL;"
    assert run(["lint", "--database-url", database_url, "-"], input=sql, cwd=tmp_path)[0] == 0
    sql2 = "ALTER TABLE users ALTER COLUMN email TYPE varchar(10);"
    assert run(["lint", "--database-url", database_url, "-"], input=sql2, cwd=tmp_path)[0] == 1


def test_rule_command_prints_docs() -> None:
    code, out = run(["rule", "set-not-null"])
    assert code == 0
    for section in ("What it does:", "Why is this bad?:", "Example:", "Use instead:"):
        assert section in out
    assert run(["rule", "nope"])[0] == 2
    code, out = run(["rule", "--list"])
    assert code == 0 and len(out.splitlines()) == len(all_rules())


@pytest.mark.parametrize("args", [["lint", "-"], ["lint", "--format", "sarif", "-"]])
def test_sql_path_imports_no_heavy_modules(tmp_path: Path, args: list[str]) -> None:
    code = (
        "import sys\n"
        "from expandcontract.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('sqlalchemy', 'alembic', 'rich', 'kubernetes', 'psycopg') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        input=DROP,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert "HEAVY []" in proc.stderr, proc.stderr
    assert "drop-column" in proc.stdout


def test_many_files_use_the_pool_and_keep_order(tmp_path: Path) -> None:
    for i in range(450):
        (tmp_path / f"m{i:04d}.sql").write_text(DROP if i % 100 == 0 else "SELECT 1;\n")
    from expandcontract.lint.api import lint_paths

    result = lint_paths([str(tmp_path)])
    assert result.files == 450
    assert [Path(f.path).name for f in result.findings] == [f"m{i:04d}.sql" for i in range(0, 450, 100)]
