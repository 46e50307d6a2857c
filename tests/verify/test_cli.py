"""`expandcontract verify` through click's CliRunner: exit codes, JSON, text, --since, and never the
application database."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from expandcontract.cli import cli

from .conftest import Chain
from .planted import BASE, BUGS, correct

UNREACHABLE = "postgresql://app:secret@127.0.0.1:1/app"


def invoke(chain: Chain, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["verify", "--config", str(chain.root / "pyproject.toml"), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def app_db_unreachable(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    """The application database (DATABASE_URL and the config) points nowhere: verify must not care."""
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    pyproject = chain.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("require_gate = false", f'database_url = "{UNREACHABLE}"\nrequire_gate = false')
    )


@pytest.mark.usefixtures("app_db_unreachable")
def test_passing_chain_exits_0_with_json(chain: Chain, pg_server_url: str) -> None:
    chain.add("users", {"expand": BASE})
    chain.add("c", correct(1))
    code, out, err = invoke(chain, "--database-url", pg_server_url, "--format", "json", "--order", "release")
    assert code == 0, out + err
    doc = json.loads(out)
    assert doc["ok"] is True
    assert doc["orders"] == ["release"]
    assert [r["phase"] for r in doc["revisions"]] == ["expand", "expand", "migrate", "contract"]
    for entry in doc["revisions"]:
        assert {"revision", "change", "phase", "status", "differences"} <= entry.keys()
        assert entry["status"] == "pass" and entry["differences"] == []
    assert "[4/4] pass" in err  # progress on stderr
    assert "secret" not in out + err


@pytest.mark.usefixtures("app_db_unreachable")
def test_failing_chain_exits_1_and_text_names_the_difference(chain: Chain, pg_server_url: str) -> None:
    chain.add("users", {"expand": BASE})
    rev = chain.add("ix", {"expand": (BUGS[0].upgrade, BUGS[0].downgrade)})["expand"]
    code, out, _ = invoke(chain, "--database-url", pg_server_url, "--order", "alembic")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"FAIL {rev[:12]} (ix expand) in alembic order: ")
    assert f"  - index ix_users_email still exists after downgrade of {rev}" in lines
    assert lines[-1].startswith("verify FAILED: 1 fail, 1 pass")

    code, out, _ = invoke(chain, "--database-url", pg_server_url, "--order", "alembic", "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is False
    failed = [r for r in doc["revisions"] if r["status"] == "fail"]
    assert [r["revision"] for r in failed] == [rev]
    assert failed[0]["change"] == "ix" and failed[0]["phase"] == "expand"


def test_bad_usage_exits_2_in_one_line(chain: Chain, pg_server_url: str) -> None:
    chain.add("users", {"expand": BASE})
    code, _, err = invoke(chain, "--order", "sideways")
    assert code == 2
    code, _, err = invoke(chain, "--database-url", "mysql://x@y/z")
    assert code == 2 and err.strip().startswith("error: database URL") and len(err.strip().splitlines()) == 1
    code, _, err = invoke(chain, "--database-url", "postgresql://nobody@127.0.0.1:1/x")
    assert code == 2 and "127.0.0.1:1" in err and "Traceback" not in err
    code, _, err = invoke(chain, "--since", "no-such-ref", "--database-url", pg_server_url)
    assert code == 2 and "--since no-such-ref" in err and len(err.strip().splitlines()) == 1


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=root, check=True, capture_output=True
    )


@pytest.mark.usefixtures("app_db_unreachable")
def test_since_verifies_only_new_revisions_from_a_template(chain: Chain, pg_server_url: str) -> None:
    chain.add("users", {"expand": BASE})
    chain.add("old", correct(1))
    git(chain.root, "init", "-q")
    git(chain.root, "add", ".")
    git(chain.root, "commit", "-q", "-m", "base")
    new_ids = chain.add("new-one", correct(0))["expand"], chain.add("new-two", correct(2))["expand"]
    code, out, err = invoke(chain, "--database-url", pg_server_url, "--since", "HEAD", "--format", "json")
    assert code == 0, out + err
    doc = json.loads(out)
    assert doc["since"] == "HEAD"
    verified = {r["revision"] for r in doc["revisions"]}
    assert verified == set(new_ids)
    assert "building the template from 4 revisions unchanged since HEAD" in err
    code, out, _ = invoke(chain, "--database-url", pg_server_url, "--since", "HEAD~0", "--order", "alembic")
    assert code == 0


def test_sigterm_still_drops_the_scratch_databases(chain: Chain, pg_server_url: str) -> None:
    """CI cancels jobs with SIGTERM: the databases verify created are dropped all the same."""
    import signal
    import sys

    from expandcontract.db.connect import connect

    chain.add("users", {"expand": BASE})
    for i in range(2):
        chain.add(f"c{i}", correct(i))
    # The next revision says it has started and then works until it is stopped: SIGTERM lands while verify
    # works, however slow the machine (synchronised on the file it writes, not on time).
    reached = chain.root / "reached"
    hold = (
        "import pathlib, time\n"
        f"pathlib.Path({str(reached)!r}).touch()\n"
        "deadline = time.monotonic() + 120\n"
        "while time.monotonic() < deadline:\n"
        "    time.sleep(0.02)\n"
    )
    chain.add("hold", {"expand": (hold, "pass")})
    proc = subprocess.Popen(
        [sys.executable, "-m", "expandcontract", "verify", "--database-url", pg_server_url],
        cwd=chain.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    prefix = f"ec_verify_{proc.pid}_"
    deadline = time.monotonic() + 120
    while not reached.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "verify never reached the held revision"
        time.sleep(0.02)
    with connect(pg_server_url) as conn:
        query = "SELECT count(*) FROM pg_database WHERE datname LIKE %s"
        row = conn.execute(query, (prefix + "%",)).fetchone()
        assert row is not None and row[0] >= 1
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        assert conn.execute(query, (prefix + "%",)).fetchone() == (0,)  # dropped before the process exited
    assert proc.returncode == 130


def test_a_role_without_createdb_is_told_in_one_line(chain: Chain, pg_server_url: str) -> None:
    from expandcontract.db.connect import connect
    from expandcontract.db.url import validate

    role = f"ec_verify_nocreatedb_{os.getpid()}"
    with connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
    try:
        scheme, rest = validate(pg_server_url).split("://", 1)
        url = f"{scheme}://{role}@{rest.split('@', 1)[-1]}"
        chain.add("users", {"expand": BASE})
        code, _, err = invoke(chain, "--database-url", url)
        assert code == 2
        errors = [ln for ln in err.splitlines() if not ln.startswith("verifying ")]
        assert len(errors) == 1 and "Traceback" not in err
        assert errors[0].startswith("error: cannot create scratch databases on ") and "CREATEDB" in errors[0]
    finally:
        with connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f"DROP ROLE {role}")
