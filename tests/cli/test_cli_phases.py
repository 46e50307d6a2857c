"""The CLI contracts on the phase commands: exit codes, JSON alone on stdout, one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from expandcontract.cli import cli


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def project_dir(tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    r = runner.invoke(cli, ["init"])
    assert r.exit_code == 0, r.output
    return tmp_path


def _ok(r):  # type: ignore[no-untyped-def]
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return r


def test_full_cycle_with_json(project_dir: Path, runner: CliRunner, database_url: str) -> None:
    db = ["--database-url", database_url]
    r = _ok(runner.invoke(cli, ["new", "add email", "--change", "users-email", "--format", "json"]))
    made = json.loads(r.stdout)
    assert [m["phase"] for m in made["revisions"]] == ["expand", "migrate", "contract"]
    assert "Generating" not in r.stdout
    ids = {m["phase"]: m["revision"] for m in made["revisions"]}
    status = json.loads(_ok(runner.invoke(cli, ["status", "--format", "json", *db])).stdout)
    (change,) = status["changes"]
    assert change["phases"] == {"expand": "pending", "migrate": "pending", "contract": "pending"}
    assert change["revisions"] == ids and change["backfills"] == []
    assert set(change["refusals"]) == {"migrate", "contract"}  # both need the expand first
    assert change["refusals"]["contract"]["run_first"] == "expandcontract run expand --change users-email"
    plan = json.loads(_ok(runner.invoke(cli, ["plan", "contract", "--format", "json", *db])).stdout)
    assert plan["planned"] == [] and plan["refused"]["run_first"] == "expandcontract run expand --change users-email"
    assert [b["revision"] for b in plan["refused"]["blocked_by"]] == [ids["expand"], ids["migrate"]]
    r = runner.invoke(cli, [*db, "run", "contract", "--change", "users-email", "--format", "json"])
    assert r.exit_code == 2, r.output
    error = json.loads(r.stdout)["error"]  # one JSON document, and nothing applied
    assert error["code"] == 2 and error["run_first"] == "expandcontract run expand --change users-email"
    assert "run `expandcontract run expand --change users-email` first" in r.stderr
    status = json.loads(_ok(runner.invoke(cli, ["status", "--format", "json", *db])).stdout)
    assert status["database_heads"] == []
    r = _ok(runner.invoke(cli, [*db, "run", "expand", "--change", "users-email", "--format", "json"]))
    assert json.loads(r.stdout)["applied"][0]["revision"] == made["revisions"][0]["revision"]
    r = _ok(runner.invoke(cli, ["run", "migrate", *db]))
    assert "no rollout target configured" in r.stderr and "no rollout target" not in r.stdout
    _ok(runner.invoke(cli, ["run", "contract", *db]))
    status = json.loads(_ok(runner.invoke(cli, ["status", "--format", "json", *db])).stdout)
    assert status["changes"][0]["phases"] == {"expand": "applied", "migrate": "applied", "contract": "applied"}
    hist = json.loads(_ok(runner.invoke(cli, ["history", "--format", "json", *db])).stdout)
    assert [h["phase"] for h in hist["runs"]] == ["contract", "migrate", "expand"]
    r = runner.invoke(cli, ["downgrade", "--change", "users-email", "--phase", "expand", *db], input="")
    assert r.exit_code == 2 and "--yes" in r.stderr
    r = _ok(
        runner.invoke(
            cli, ["downgrade", "--change", "users-email", "--phase", "expand", "--yes", *db, "--format", "json"]
        )
    )
    assert len(json.loads(r.stdout)["removed"]) == 3
    assert r.stderr.count("cascade") == 2  # the migrate and the contract, undone first
    _ok(runner.invoke(cli, ["doctor", *db]))


def test_heads_stamp_reads_only_files(project_dir: Path, runner: CliRunner) -> None:
    _ok(runner.invoke(cli, ["new", "x", "--change", "users-x"]))
    r = _ok(runner.invoke(cli, ["heads", "--stamp", "--database-url", "postgresql://nobody@127.0.0.1:1/none"]))
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("expand=") and ",migrate=" in lines[0]
    _ok(runner.invoke(cli, ["new", "y", "--change", "users-y", "--phase", "expand"]))
    assert _ok(runner.invoke(cli, ["heads", "--stamp"])).stdout != r.stdout


def test_unreachable_database_is_exit_2_one_line_masked(project_dir: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["status", "--database-url", "postgresql://app:hunter2@127.0.0.1:1/app"])
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1 and "127.0.0.1:1" in r.stderr and "hunter2" not in r.stderr
    assert "Traceback" not in r.output


def test_database_url_env_is_used(
    project_dir: Path, runner: CliRunner, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ok(runner.invoke(cli, ["new", "x", "--change", "users-x", "--phase", "expand"]))
    monkeypatch.setenv("DATABASE_URL", database_url)
    _ok(runner.invoke(cli, ["run", "expand"]))
    assert (
        json.loads(_ok(runner.invoke(cli, ["status", "--format", "json"])).stdout)["changes"][0]["phases"]["expand"]
        == "applied"
    )


def test_unknown_config_key_is_exit_2(project_dir: Path, runner: CliRunner) -> None:
    (project_dir / "pyproject.toml").write_text("[tool.expandcontract]\nlock_timeout = 5\n")
    r = runner.invoke(cli, ["heads"])
    assert r.exit_code == 2 and "unknown key 'lock_timeout'" in r.stderr


def test_two_heads_in_a_lane_is_exit_2_naming_both(project_dir: Path, runner: CliRunner) -> None:
    _ok(runner.invoke(cli, ["new", "x", "--change", "users-x", "--phase", "expand"]))
    lane = project_dir / "migrations" / "versions" / "expand"
    (first,) = list(lane.glob("*.py"))
    text = first.read_text()
    rid = text.split("revision = '")[1].split("'")[0]
    twin = text.replace(f"revision = '{rid}'", "revision = 'aaaaaaaaaaaa'").replace(
        "branch_labels = ('expand',)", "branch_labels = None"
    )
    twin = twin.replace("down_revision = None", f"down_revision = '{rid}'").replace("'users-x'", "'users-y'")
    (lane / "a_twin.py").write_text(twin)
    (lane / "b_twin.py").write_text(twin.replace("aaaaaaaaaaaa", "bbbbbbbbbbbb").replace("'users-y'", "'users-z'"))
    r = runner.invoke(cli, ["heads"])
    assert r.exit_code == 2 and "aaaaaaaaaaaa" in r.stderr and "bbbbbbbbbbbb" in r.stderr and "merge" in r.stderr


def test_skip_gate_needs_a_reason(project_dir: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["run", "migrate", "--skip-gate"])
    assert r.exit_code == 2 and "--reason" in r.stderr


def test_bad_slug_and_unknown_change(project_dir: Path, runner: CliRunner, database_url: str) -> None:
    r = runner.invoke(cli, ["new", "x", "--change", "Bad_Slug"])
    assert r.exit_code == 2 and "slug" in r.stderr
    r = runner.invoke(cli, ["run", "expand", "--change", "nope", "--database-url", database_url])
    assert r.exit_code == 2 and "unknown change 'nope'" in r.stderr


def test_python_dash_m_entry_point(project_dir: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "expandcontract", "heads", "--stamp"],
        capture_output=True,
        text=True,
        cwd=project_dir,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert out.returncode == 0 and out.stdout.strip() == "expand=-,migrate=-,contract=-"


UNREACHABLE = "postgresql://app:hunter2@127.0.0.1:1/app"
ERRORING = [
    ["status"],
    ["plan", "expand"],
    ["run", "expand"],
    ["run", "migrate", "--skip-gate"],  # our own usage error
    ["run", "expand", "--lock-wait", "soon"],  # click's usage error
    ["downgrade", "--change", "x", "--phase", "expand", "--yes"],
    ["history"],
    ["history", "--limit", "-5"],
    ["doctor"],
    ["backfill", "status"],
    ["backfill", "pause", "x"],
    ["backfill", "work", "x"],
    ["new", "x", "--change", "Bad_Slug"],
    ["heads", "--config", "missing.toml"],
    ["init", "/proc/self"],
    ["verify", "--since", "no-such-ref"],
    ["gate", "migrate", "--change", "nope"],
    ["lint", "does/not/exist.py"],
]


@pytest.mark.parametrize("argv", ERRORING, ids=lambda a: " ".join(a))
def test_every_command_prints_one_json_error_document(project_dir: Path, runner: CliRunner, argv: list[str]) -> None:
    r = runner.invoke(cli, [*argv, "--database-url", UNREACHABLE, "--format", "json"])
    assert r.exit_code not in (0, None) and "Traceback" not in r.output, r.output
    doc = json.loads(r.stdout)  # exactly one document: json.loads refuses trailing data
    assert set(doc) == {"error"} and doc["error"]["code"] == r.exit_code and doc["error"]["message"]
    assert "hunter2" not in r.output
    assert r.stderr.strip().splitlines()[-1].startswith(("error:", "Error:"))


def test_heads_stamp_with_json_prints_json(project_dir: Path, runner: CliRunner) -> None:
    r = _ok(runner.invoke(cli, ["heads", "--stamp", "--format", "json"]))
    assert json.loads(r.stdout)["stamp"] == "expand=-,migrate=-,contract=-"
