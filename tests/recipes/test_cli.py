"""`new` with a recipe on the command line: the options of DESIGN.md, exit codes, one-line errors, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from expandcontract.cli import cli
from expandcontract.recipes.rename_column import RenameColumn
from tests.recipes.harness import Project


@pytest.fixture
def app_dir(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    project.setup(
        "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, plan text)",
        "DROP TABLE users",
        "INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, 10) g",
    )
    monkeypatch.chdir(project.root)
    return project


def _new(project: Project, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, ["--database-url", project.url, "new", *args])
    return r.exit_code, r.stdout, r.stderr


def _revisions(project: Project) -> list[Path]:
    return sorted((project.root / "migrations" / "versions").rglob("*.py"))


def test_a_recipe_writes_three_revisions(app_dir: Project) -> None:
    before = _revisions(app_dir)
    code, out, err = _new(
        app_dir,
        "rename users.name",
        "--change",
        "users-full-name",
        "--rename-column",
        "users.name",
        "full_name",
        "--format",
        "json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert [r["phase"] for r in doc["revisions"]] == ["expand", "migrate", "contract"]
    assert len(_revisions(app_dir)) == len(before) + 3
    assert "ADD COLUMN IF NOT EXISTS full_name text" in Path(doc["revisions"][0]["path"]).read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--change-type", "users.name", "integer"],
            "PostgreSQL cannot turn text name into integer as an assignment; give --using SQL_EXPR "
            "(and --back SQL_EXPR)",
        ),
        (["--change-type", "users.name", "nosuchtype"], "'nosuchtype' is not a type PostgreSQL knows"),
        (["--set-not-null", "users.plan", "--fill", "1 +"], "--fill '1 +' does not give a text"),
        (["--rename-column", "users.name", "full_name", "--drop-column", "users.plan"], "one recipe at a time"),
        (["--using", "x", "--drop-column", "users.plan"], "--using goes with --change-type"),
        (["--rename", "users.a:b", "--drop-column", "users.plan"], "--rename goes with --autogenerate"),
        (["--drop-column", "users.plan", "--phase", "expand"], "leave out --phase"),
        (["--drop-column", "plan"], "'plan' is not TABLE.COLUMN"),
        (["--add-column", "users.plan", "text"], "users already has a column 'plan'"),
    ],
    ids=[
        "no-cast",
        "unknown-type",
        "bad-fill",
        "two-recipes",
        "extra-alone",
        "rename-alone",
        "phase",
        "no-table",
        "exists",
    ],
)
def test_refusals_are_one_line_exit_2_and_write_nothing(app_dir: Project, args: list[str], message: str) -> None:
    before = _revisions(app_dir)
    code, out, err = _new(app_dir, "a change", "--change", "a-change", *args, "--format", "json")
    assert code == 2, (out, err)
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert json.loads(out)["error"]["code"] == 2
    assert _revisions(app_dir) == before


def test_without_a_database_the_schema_comes_from_an_embedded_scratch_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --database-url, DATABASE_URL, config or alembic.ini URL: verify's embedded scratch server is
    started for the command and stopped after it; the project's own embedded server is never started."""
    from expandcontract.config import load_config
    from expandcontract.db import embedded
    from expandcontract.phases import adopt, scaffold

    monkeypatch.delenv("DATABASE_URL", raising=False)
    root = tmp_path / "app"
    adopt.init(root)
    (made,) = scaffold.new(load_config(start=root), "tables", "app-schema", ("expand",))
    made.path.write_text(
        made.path.read_text().replace(
            "    # TODO: additive only",
            '    op.execute("CREATE TABLE users (id serial PRIMARY KEY, name text)")\n    #',
            1,
        )
    )
    monkeypatch.chdir(root)
    r = CliRunner().invoke(
        cli, ["new", "rename", "--change", "users-full-name", "--rename-column", "users.name", "full_name"]
    )
    assert r.exit_code == 0, r.stderr
    assert "starting a scratch PostgreSQL" in r.stderr
    assert not embedded.status(root / ".expandcontract" / "verify").running
    assert not embedded.status(root / ".expandcontract").running


def test_a_project_template_without_recipe_bodies_is_replaced_for_recipes(app_dir: Project) -> None:
    """A script.py.mako from before recipes (here: Alembic's own, patched by init) cannot render the
    docstrings, constants and bodies: new says so and writes with expandcontract's template."""
    import alembic

    from expandcontract.phases.adopt import MAKO_PATCH

    stock = (Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako").read_text()
    at = stock.index("depends_on")
    at = stock.index("\n", at) + 1
    (app_dir.root / "migrations" / "script.py.mako").write_text(stock[:at] + MAKO_PATCH + stock[at:])
    paths = app_dir.new("users-full-name", RenameColumn("users.name", "full_name"))
    assert any("does not write recipe bodies" in n for n in app_dir.notes)
    expand = paths["expand"].read_text()
    assert "SYNC_USERS_FULL_NAME_FUNCTION = " in expand and "Before the next phase" in expand
    assert app_dir.lint() == []
