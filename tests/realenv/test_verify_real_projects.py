"""verify on histories shaped like mlflow's and airflow's: a baseline created outside Alembic, revisions
that do nothing on PostgreSQL (dialect-guarded), revisions that print and log while machine output is
asked for, and revisions that fail to import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from expandcontract.cli import cli

from .conftest import Chain

# What `pg_dump --schema-only --no-owner` prints (PostgreSQL 17.6+ adds the \restrict lines).
BASELINE = r"""--
-- PostgreSQL database dump
--
\restrict abc123

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);

CREATE TABLE public.experiments (
    experiment_id integer NOT NULL,
    name character varying(256) NOT NULL
);
ALTER TABLE ONLY public.experiments
    ADD CONSTRAINT experiment_pk PRIMARY KEY (experiment_id);

\unrestrict abc123
"""

# the first revision alters a table only the baseline creates (as mlflow's first revision does)
ON_BASELINE = (
    'op.add_column("experiments", sa.Column("lifecycle_stage", sa.String(32), nullable=True))',
    'op.drop_column("experiments", "lifecycle_stage")',
    "import sqlalchemy as sa",
)

GUARDED = (
    """
if op.get_context().dialect.name == "sqlite":
    op.execute("CREATE TABLE sqlite_only (id integer)")
""",
    'raise NotImplementedError("no downgrade")',
)


def invoke(chain: Chain, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["verify", "--config", str(chain.root / "pyproject.toml"), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_baseline_is_loaded_before_the_first_revision(chain: Chain, pg_server_url: str, tmp_path: Path) -> None:
    rev = chain.add("stage", {"expand": ON_BASELINE})["expand"]
    code, out, _ = invoke(chain, "--database-url", pg_server_url, "--order", "alembic", "--format", "json")
    assert code == 1  # without the baseline the table does not exist
    (failed,) = json.loads(out)["revisions"]
    assert failed["revision"] == rev and 'relation "experiments" does not exist' in failed["differences"][0]

    baseline = tmp_path / "baseline.sql"
    baseline.write_text(BASELINE)
    code, out, err = invoke(
        chain, "--database-url", pg_server_url, "--order", "alembic", "--format", "json", "--baseline", str(baseline)
    )
    assert code == 0, out + err
    doc = json.loads(out)
    assert [r["status"] for r in doc["revisions"]] == ["pass"]
    assert any("baseline" in n for n in doc["notes"])


def test_a_baseline_that_does_not_load_is_one_line_exit_2(chain: Chain, pg_server_url: str, tmp_path: Path) -> None:
    chain.add("stage", {"expand": ON_BASELINE})
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE TABLE t (id integer);\nALTER TABLE t OWNER TO no_such_role_here;\n")
    code, out, err = invoke(chain, "--database-url", pg_server_url, "--baseline", str(bad))
    assert code == 2, out + err
    assert err.strip().splitlines() == [err.strip().splitlines()[0]] or "Traceback" not in err
    line = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(line) == 1 and "no_such_role_here" in line[0] and "--no-owner" in line[0]
    archive = tmp_path / "custom.dump"
    archive.write_bytes(b"PGDMP\x01\x0e\x00")
    code, _, err = invoke(chain, "--database-url", pg_server_url, "--baseline", str(archive))
    assert code == 2 and "custom format" in err


def test_a_dialect_guarded_revision_needs_no_downgrade(chain: Chain, pg_server_url: str) -> None:
    guarded = chain.add("guarded", {"expand": GUARDED})["expand"]
    real = chain.add("real", {"expand": ('op.execute("CREATE TABLE real_one (id integer)")', "pass")})["expand"]
    code, out, err = invoke(chain, "--database-url", pg_server_url, "--order", "alembic", "--format", "json")
    assert code == 1, out + err  # the revision that does something still needs its downgrade
    by_id = {r["revision"]: r for r in json.loads(out)["revisions"]}
    assert by_id[guarded]["status"] == "pass"
    assert any("does nothing on PostgreSQL" in n for n in by_id[guarded]["notes"])
    assert by_id[real]["status"] == "fail"
    assert "downgrade() of" in by_id[real]["differences"][0]


def test_a_data_only_revision_is_not_taken_for_a_no_op(chain: Chain, pg_server_url: str) -> None:
    """An UPDATE changes no catalog but is not nothing: its empty downgrade is still reported."""
    chain.add("t", {"expand": ('op.execute("CREATE TABLE t (id integer, v text)")', 'op.execute("DROP TABLE t")')})
    data = chain.add("fill", {"expand": ("op.execute(\"UPDATE t SET v = 'x'\")", "pass")})["expand"]
    code, out, _ = invoke(chain, "--database-url", pg_server_url, "--order", "alembic", "--format", "json")
    assert code == 1
    by_id = {r["revision"]: r for r in json.loads(out)["revisions"]}
    assert by_id[data]["status"] == "fail" and "is empty but upgrade() is not" in by_id[data]["differences"][0]


def test_json_stdout_is_one_document_while_revisions_print_and_log(chain: Chain, pg_server_url: str) -> None:
    """airflow logs hundreds of lines while its revisions load and run: they go to stderr."""
    noisy = "import logging, sys\nprint('imported: a line on stdout')\nlogging.basicConfig(stream=sys.stdout)"
    chain.add(
        "noisy",
        {
            "expand": (
                "print('upgrading')\nlogging.getLogger('alembic').warning('a log line')\n"
                'op.execute("CREATE TABLE n (id integer)")',
                'print("downgrading")\nop.execute("DROP TABLE n")',
                noisy,
            )
        },
    )
    proc = subprocess.run(
        [sys.executable, "-m", "expandcontract", "verify", "--database-url", pg_server_url, "--format", "json"],
        cwd=chain.root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)  # exactly one document, nothing before or after it
    assert doc["ok"] is True
    assert "imported: a line on stdout" in proc.stderr and "upgrading" in proc.stderr
    assert "a log line" in proc.stderr


def test_a_revision_that_fails_to_import_is_one_line_exit_2(chain: Chain, pg_server_url: str) -> None:
    rev = chain.add("broken", {"expand": ("pass", "pass", "import no_such_module_anywhere")})["expand"]
    path = next((chain.root / "migrations" / "versions").rglob(f"*{rev}*.py"), None) or next(
        p for p in (chain.root / "migrations").rglob("*.py") if rev in p.read_text()
    )
    for args in (["verify", "--database-url", pg_server_url], ["lint"], ["status"]):
        proc = subprocess.run(
            [sys.executable, "-m", "expandcontract", *args], cwd=chain.root, capture_output=True, text=True
        )
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, (args, lines)
        assert path.name in lines[0] and "ModuleNotFoundError" in lines[0] and "no_such_module_anywhere" in lines[0]


def test_run_status_and_plan_json_are_one_document_while_revisions_print(chain: Chain, database_url: str) -> None:
    chain.add(
        "noisy",
        {
            "expand": (
                "print('upgrading')\nlogging.getLogger('alembic').warning('a log line')\n"
                'op.execute("CREATE TABLE n (id integer)")',
                'op.execute("DROP TABLE n")',
                "import logging, sys\nprint('imported: a line on stdout')\nlogging.basicConfig(stream=sys.stdout)",
            )
        },
    )
    for args in (["plan", "expand"], ["run", "expand"], ["status"]):
        proc = subprocess.run(
            [sys.executable, "-m", "expandcontract", *args, "--database-url", database_url, "--format", "json"],
            cwd=chain.root,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        json.loads(proc.stdout)  # exactly one document
        assert "imported: a line on stdout" in proc.stderr
        if args[0] == "run":
            assert "upgrading" in proc.stderr and "a log line" in proc.stderr
