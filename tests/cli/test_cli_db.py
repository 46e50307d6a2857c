from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from expandcontract.cli import cli


def test_embedded_server_lifecycle_is_reused_by_later_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    try:
        r = runner.invoke(cli, ["db", "start"])
        assert r.exit_code == 0 and "host=" in r.stdout
        st = json.loads(runner.invoke(cli, ["db", "status", "--format", "json"]).stdout)
        assert st["running"] and st["pgdata"] == str(tmp_path.resolve() / ".expandcontract" / "pg")
        r = runner.invoke(cli, ["status", "--format", "json"])  # no URL anywhere: the embedded server
        assert r.exit_code == 0 and json.loads(r.stdout)["changes"] == []
        assert "starting the embedded PostgreSQL" not in r.stderr  # it reused the running one
    finally:
        r = runner.invoke(cli, ["db", "stop"])
    assert r.exit_code == 0 and "stopped" in r.stdout
    assert "not running" in runner.invoke(cli, ["db", "status"]).stdout
