"""`status` shows each change's next gated phase with the gate's decision and reasons, and `run` takes
`--snapshot` like `gate` (issue 15.4), on the snapshot fixtures and a real database."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from click.testing import CliRunner

from expandcontract.cli import cli

from .conftest import FIXTURES
from .test_cli_gate import configure


def _cli(root: Path, url: str, *args: str) -> tuple[int, str, str]:
    env_py = root / "migrations" / "env.py"
    if not env_py.exists():
        env_py.write_text(resources.files("expandcontract").joinpath("templates", "env.py").read_text())
    r = CliRunner().invoke(cli, [*args, "--config", str(root / "pyproject.toml"), "--database-url", url])
    return r.exit_code, r.stdout, r.stderr


def _gate(root: Path, url: str, snapshot: str) -> dict[str, object]:
    code, out, err = _cli(root, url, "status", "--snapshot", str(FIXTURES / snapshot), "--format", "json")
    assert code == 0, err
    (change,) = [c for c in json.loads(out)["changes"] if c["change"] == "users-email"]
    gate: dict[str, object] = change["gate"]
    return gate


def test_status_shows_the_next_phase_gate_and_run_takes_a_snapshot(project_root: Path, database_url: str) -> None:
    configure(project_root)
    code, _, err = _cli(project_root, database_url, "run", "expand")
    assert code == 0, err
    gate = _gate(project_root, database_url, "deployment-mid.yaml")
    assert gate["phase"] == "migrate" and gate["decision"] == "blocked" and gate["reasons"]
    code, out, _ = _cli(project_root, database_url, "status", "--snapshot", str(FIXTURES / "deployment-mid.yaml"))
    assert "migrate gate: blocked (" in out
    code, _, err = _cli(
        project_root, database_url, "run", "migrate", "--snapshot", str(FIXTURES / "deployment-mid.yaml")
    )
    assert code == 3 and "migrate gate for users-email: migrate(users-email) blocked" in err  # nothing ran
    code, _, err = _cli(
        project_root, database_url, "run", "migrate", "--snapshot", str(FIXTURES / "deployment-complete.yaml")
    )
    assert code == 0, err
    assert _gate(project_root, database_url, "deployment-complete.yaml")["phase"] == "contract"


def test_status_without_a_target_has_no_gate(project_root: Path, database_url: str) -> None:
    (project_root / "pyproject.toml").write_text("[tool.expandcontract]\n")
    code, out, err = _cli(project_root, database_url, "status", "--format", "json")
    assert code == 0, err
    assert all(c["gate"] is None for c in json.loads(out)["changes"])
