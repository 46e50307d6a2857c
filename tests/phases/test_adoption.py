"""A new user's path on a plain Alembic project (made by `alembic init`, its history applied by plain
Alembic, its database named only in alembic.ini): init, doctor, status, a change run phase by phase.

Every command must target the database alembic.ini names, never start an embedded server beside it, and
record state from then on; revisions applied before init are not a problem."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from expandcontract.cli import cli
from expandcontract.db.connect import connect
from tests.phases.conftest import _replace_body

USERS = """op.create_table("users", sa.Column("id", sa.BigInteger(), primary_key=True), sa.Column("name", sa.Text()))
op.execute("INSERT INTO users (id, name) SELECT g, 'u' || g FROM generate_series(1, 50) g")"""


def _alembic(*args: str, cwd: Path) -> None:
    from alembic.config import CommandLine

    old = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            CommandLine().main(["-c", str(cwd / "alembic.ini"), *args])
    finally:
        os.chdir(old)


def _ini_url(url: str) -> str:
    """How a user writes the URL in alembic.ini: with a driver suffix, `%` escaped as `%%` (configparser)."""
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    sep = "&" if "?" in url else "?"
    return (url + f"{sep}application_name=app%20from%20ini").replace("%", "%%")


@pytest.fixture
def plain(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`alembic init migrations`, sqlalchemy.url set, one revision written and applied by plain Alembic."""
    root = tmp_path / "app"
    root.mkdir()
    monkeypatch.delenv("DATABASE_URL", raising=False)
    _alembic("init", "migrations", cwd=root)
    ini = root / "alembic.ini"
    ini.write_text(ini.read_text().replace("driver://user:pass@localhost/dbname", _ini_url(database_url)))
    _alembic("revision", "-m", "create users", "--rev-id", "base0001", cwd=root)
    (rev,) = (root / "migrations" / "versions").glob("*.py")
    rev.write_text(_replace_body(rev.read_text(), "upgrade", USERS))
    _alembic("upgrade", "head", cwd=root)
    monkeypatch.chdir(root)
    yield root


def _ok(r):  # type: ignore[no-untyped-def]
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return r


def _one(url: str, query: str) -> object:
    with connect(url) as conn:
        row = conn.execute(query).fetchone()
    return row[0] if row else None


def test_adopting_a_stock_project_uses_its_database_and_records_from_then_on(plain: Path, database_url: str) -> None:
    runner = CliRunner()
    r = _ok(runner.invoke(cli, ["init"]))
    assert "1 revision(s)" in r.stdout and "they become the expand lane" in r.stdout
    assert "database: postgresql://" in r.stdout and "(from alembic.ini)" in r.stdout
    assert "Alembic's stock file, rewritten" in r.stdout
    assert ".expandcontract/" in (plain / ".gitignore").read_text()
    # right after init: clean, read-only (our tables are not created just to look), no embedded server
    r = _ok(runner.invoke(cli, ["doctor"]))
    assert "all consistent" in r.stdout
    assert _one(database_url, "SELECT to_regclass('expandcontract.runs')") is None
    status = json.loads(_ok(runner.invoke(cli, ["status", "--format", "json"])).stdout)
    assert status["database_heads"] == ["base0001"] and status["notes"] == []
    # a change, phase by phase, in that same database
    made = json.loads(
        _ok(runner.invoke(cli, ["new", "add email", "--change", "users-email", "--format", "json"])).stdout
    )
    paths = {m["phase"]: Path(m["path"]) for m in made["revisions"]}
    paths["expand"].write_text(
        _replace_body(paths["expand"].read_text(), "upgrade", 'op.add_column("users", sa.Column("email", sa.Text()))')
    )
    paths["migrate"].write_text(
        _replace_body(
            paths["migrate"].read_text(), "upgrade", 'op.backfill("users", values={"email": "name || \'@x\'"})'
        )
    )
    r = runner.invoke(cli, ["run", "contract", "--change", "users-email"])
    assert r.exit_code == 2 and "expandcontract run expand --change users-email" in r.stderr
    assert _one(database_url, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'email'") == 0
    for phase in ("expand", "migrate", "contract"):
        _ok(runner.invoke(cli, ["run", phase]))
    assert _one(database_url, "SELECT count(*) FROM users WHERE email = name || '@x'") == 50
    assert _one(database_url, "SELECT count(*) FROM expandcontract.revision_state WHERE run_id IS NOT NULL") == 3
    apps = _one(database_url, "SELECT count(*) FROM expandcontract.runs WHERE outcome = 'succeeded'")
    assert apps == 3
    assert not (plain / ".expandcontract").exists()  # never an embedded server beside a configured database
    r = _ok(runner.invoke(cli, ["doctor"]))
    assert "all consistent" in r.stdout


def test_database_url_comes_before_alembic_ini(plain: Path, database_url: str, pg_server_url: str) -> None:
    from tests.conftest import create_database, drop_database

    other = create_database(pg_server_url, "ec_other")
    try:
        runner = CliRunner()
        _ok(runner.invoke(cli, ["init"]))
        _ok(runner.invoke(cli, ["new", "x", "--change", "users-x", "--phase", "expand"]))
        r = _ok(runner.invoke(cli, ["status", "--format", "json"], env={"DATABASE_URL": other}))
        assert json.loads(r.stdout)["database_heads"] == []  # the other database: nothing applied there
        r = _ok(runner.invoke(cli, ["status", "--format", "json"]))
        assert json.loads(r.stdout)["database_heads"] == ["base0001"]
    finally:
        drop_database(pg_server_url, other)


def test_init_patches_a_custom_env_py_and_shows_the_diff(plain: Path, database_url: str) -> None:
    env_py = plain / "migrations" / "env.py"
    custom = env_py.read_text().replace(
        "connection=connection, target_metadata=target_metadata",
        "connection=connection, target_metadata=target_metadata, compare_type=True",
    )
    env_py.write_text(custom)
    r = _ok(CliRunner().invoke(cli, ["init"]))
    assert "your own file, patched" in r.stdout
    assert "+expandcontract.env.instrument(context)" in r.stdout  # the diff is shown
    text = env_py.read_text()
    assert "compare_type=True" in text and text.count("expandcontract") == 3
    _ok(CliRunner().invoke(cli, ["new", "x", "--change", "users-x", "--phase", "expand"]))
    _ok(CliRunner().invoke(cli, ["run", "expand"]))
    # the patched env.py recorded the step in its own transaction, with the runner's run id
    assert _one(database_url, "SELECT count(*) FROM expandcontract.revision_state WHERE run_id IS NOT NULL") == 1


def test_revisions_applied_with_plain_alembic_after_init_are_a_note(plain: Path, database_url: str) -> None:
    runner = CliRunner()
    _ok(runner.invoke(cli, ["init"]))
    _ok(runner.invoke(cli, ["new", "x", "--change", "users-x"]))
    _alembic("upgrade", "heads", cwd=plain)  # plain Alembic stays what Alembic does: all lanes at once
    status = json.loads(_ok(runner.invoke(cli, ["status", "--format", "json"])).stdout)
    assert status["changes"][0]["phases"] == {"expand": "applied", "migrate": "applied", "contract": "applied"}
    (note,) = status["notes"]
    assert "not by the expandcontract runner" in note
    r = runner.invoke(cli, ["doctor", "--format", "json"])
    assert r.exit_code == 0
    kinds = {f["kind"]: f["severity"] for f in json.loads(r.stdout)["findings"]}
    assert kinds == {"applied-outside-runner": "note"}


def test_init_right_after_alembic_init_and_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    _alembic("init", "migrations", cwd=tmp_path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    r = _ok(runner.invoke(cli, ["init"]))
    assert "no revisions yet" in r.stdout and "embedded PostgreSQL" in r.stdout
    for lane in ("expand", "migrate", "contract"):
        assert (tmp_path / "migrations" / "versions" / lane / ".gitkeep").is_file()  # git keeps the lane
    _ok(runner.invoke(cli, ["new", "first", "--change", "first"]))
    r = _ok(runner.invoke(cli, ["init"]))
    assert "merge" not in r.output and "nothing to change" in r.stdout
    r = _ok(runner.invoke(cli, ["heads", "--stamp"]))
    assert r.stdout.startswith("expand=") and "migrate=-" not in r.stdout


def test_a_revision_that_fails_to_import_is_one_line_and_nothing_changes(plain: Path) -> None:
    (rev,) = (plain / "migrations" / "versions").glob("*.py")
    rev.write_text("import no_such_module_for_the_test\n" + rev.read_text())
    ini_before = (plain / "alembic.ini").read_text()
    r = CliRunner().invoke(cli, ["init"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert r.stderr.count("\n") == 1 and rev.name in r.stderr and "no_such_module_for_the_test" in r.stderr
    assert (plain / "alembic.ini").read_text() == ini_before
    assert not (plain / "migrations" / "versions" / "migrate").exists()
