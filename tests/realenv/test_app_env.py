"""In the app's environment: the driver its URL names (psycopg2) drives Alembic in verify and the runner,
and an app context hook lets revisions that need the application at import time load, render and run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import sqlalchemy

from expandcontract.db.url import use_driver

from .conftest import Chain

SQLALCHEMY_2 = int(sqlalchemy.__version__.split(".")[0]) >= 2

# passes only on the driver the app named: what airflow's 0017 and 0094 need (psycopg 3 rejects them)
NEEDS_PSYCOPG2 = (
    """
driver = op.get_bind().dialect.driver
if driver != "psycopg2":
    raise RuntimeError(f"this revision runs on psycopg2 only, got {driver}")
op.execute("CREATE TABLE drv (id integer)")
""",
    'op.execute("DROP TABLE drv")',
)


def cli(chain: Chain, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "expandcontract", *args], cwd=chain.root, capture_output=True, text=True, env=env
    )


def set_config(chain: Chain, line: str) -> None:
    pyproject = chain.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("require_gate = false", f"{line}\nrequire_gate = false"))


def test_verify_uses_the_driver_the_app_url_names(chain: Chain, pg_server_url: str) -> None:
    chain.add("drv", {"expand": NEEDS_PSYCOPG2})
    proc = cli(chain, "verify", "--database-url", pg_server_url, "--order", "alembic", "--format", "json")
    if SQLALCHEMY_2:  # psycopg 3 by default (SQLAlchemy 1.4 has no psycopg 3 dialect: psycopg2 there)
        assert proc.returncode == 1, proc.stderr
        assert "runs on psycopg2 only, got psycopg" in proc.stdout
    # the app's database (never touched by verify: it does not even answer) names psycopg2
    set_config(chain, 'database_url = "postgresql+psycopg2://app:secret@127.0.0.1:1/app"')
    proc = cli(chain, "verify", "--database-url", pg_server_url, "--order", "alembic", "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["revisions"][0]["status"] == "pass"
    assert "secret" not in proc.stdout + proc.stderr


def test_run_uses_the_driver_the_app_url_names(chain: Chain, database_url: str) -> None:
    chain.add("drv", {"expand": NEEDS_PSYCOPG2})
    if SQLALCHEMY_2:
        plain = cli(chain, "run", "expand", "--database-url", database_url)
        assert plain.returncode == 1, plain.stdout + plain.stderr
    named = database_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    proc = cli(chain, "run", "expand", "--database-url", named, "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [a["revision"] for a in json.loads(proc.stdout)["applied"]]
    from expandcontract.db.connect import connect

    with connect(database_url) as conn:  # applied for real, through psycopg2
        assert conn.execute("SELECT to_regclass('public.drv') IS NOT NULL").fetchone() == (True,)


def test_a_driver_that_is_not_installed_is_one_line(chain: Chain) -> None:
    from expandcontract.db.connect import make_engine
    from expandcontract.errors import UsageError

    use_driver("pg8000")
    try:
        make_engine("postgresql://u@127.0.0.1:1/x")
    except UsageError as exc:
        assert "pip install pg8000" in str(exc)
    else:  # pg8000 happens to be installed: the engine is over it
        assert make_engine("postgresql://u@127.0.0.1:1/x").dialect.driver == "pg8000"


APPCTX = """
import contextlib
import contextvars

CURRENT = contextvars.ContextVar("CURRENT")


@contextlib.contextmanager
def app_context():
    token = CURRENT.set("ready")
    try:
        yield
    finally:
        CURRENT.reset(token)


def need():
    try:
        return CURRENT.get()
    except LookupError:
        raise RuntimeError("Working outside of application context.") from None
"""


def test_app_context_hook_around_loading_rendering_and_running(chain: Chain, pg_server_url: str) -> None:
    (chain.root / "appctx.py").write_text(textwrap.dedent(APPCTX))
    chain.add(
        "ctx",
        {
            "expand": (
                'appctx.need()\nop.execute("CREATE TABLE ctx (id integer)")',
                'appctx.need()\nop.execute("DROP TABLE ctx")',
                "import appctx\n\nappctx.need()",
            )
        },
    )
    for args in (["verify", "--database-url", pg_server_url], ["lint"]):
        proc = cli(chain, *args)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        (line,) = proc.stderr.strip().splitlines()
        assert "Working outside of application context" in line and 'app_context = "module:callable"' in line
    set_config(chain, 'app_context = "appctx:app_context"')
    proc = cli(chain, "verify", "--database-url", pg_server_url, "--order", "alembic", "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [r["status"] for r in json.loads(proc.stdout)["revisions"]] == ["pass"]
    proc = cli(chain, "lint", "--format", "json")
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["summary"]["not_analysable"] == 0 if "summary" in doc else True
    assert "Working outside" not in proc.stdout + proc.stderr


def test_a_bad_app_context_hook_is_one_line_exit_2(chain: Chain) -> None:
    chain.add("x", {"expand": ("pass", "pass")})
    for value, expected in (("nocolon", "module.path:callable"), ("no_such_mod:f", "No module named")):
        pyproject = chain.root / "pyproject.toml"
        text = pyproject.read_text()
        if "app_context" in text:
            text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("app_context")) + "\n"
            pyproject.write_text(text)
        set_config(chain, f'app_context = "{value}"')
        proc = cli(chain, "lint")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        (line,) = proc.stderr.strip().splitlines()
        assert expected in line
