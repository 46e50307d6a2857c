"""Downgrading one change: the contract lane is linear, so undoing a contract also undoes later changes'
contracts. The preview lists every revision, marks the irreversible ones and refuses before touching
anything when one is; a failure names its revision and doctor reports the half-done state; a backfill's
checkpoint goes with the revision that ran it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from expandcontract.cli import cli
from expandcontract.db.connect import connect
from expandcontract.errors import PhaseFailed
from expandcontract.phases.doctor import diagnose
from expandcontract.phases.run import run_downgrade, run_phase
from expandcontract.phases.status import project_status
from tests.phases.conftest import ProjectFactory


def _column(name: str) -> dict[str, str]:
    """A change that adds a column in its expand and drops a marker table in its contract (undo: recreate)."""
    return {
        "expand": f'op.execute("ALTER TABLE t ADD COLUMN {name} int")',
        "expand_down": f'op.execute("ALTER TABLE t DROP COLUMN {name}")',
        "contract": f'op.execute("CREATE TABLE done_{name} ()")',
        "contract_down": f'op.execute("DROP TABLE done_{name}")',
    }


@pytest.fixture
def three(factory: ProjectFactory, database_url: str, notify: Callable[[str], None]) -> ProjectFactory:
    factory.new("base", phases=("expand",), expand='op.execute("CREATE TABLE t (id int PRIMARY KEY)")')
    for name in ("a", "b", "c"):
        factory.new(f"change-{name}", **_column(name))
    project = factory.project()
    for phase in ("expand", "migrate", "contract"):
        run_phase(project, database_url, phase, None, notify=notify)
    return factory


def _contract_states(factory: ProjectFactory, url: str) -> dict[str, str]:
    return {
        c.change: c.phases["contract"] for c in project_status(factory.project(), url).changes if c.change != "base"
    }


def test_undoing_a_contract_undoes_the_later_contracts_after_showing_them(
    three: ProjectFactory, database_url: str, notify: Callable[[str], None]
) -> None:
    shown: list[list[tuple[str | None, bool]]] = []
    plan = run_downgrade(
        three.project(),
        database_url,
        "change-a",
        "contract",
        notify=notify,
        preview=lambda p: shown.append([(u.revision.change, u.cascade) for u in p.undo]),
        confirm=lambda p: True,
    )
    assert plan is not None
    assert shown == [[("change-c", True), ("change-b", True), ("change-a", False)]]
    assert _contract_states(three, database_url) == {
        "change-a": "pending",
        "change-b": "pending",
        "change-c": "pending",
    }
    with connect(database_url) as conn:
        left = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'done_%'").fetchone()
    assert left == (0,)


def test_an_irreversible_revision_in_the_cascade_refuses_before_touching_anything(
    three: ProjectFactory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (c_contract,) = (three.root / "migrations" / "versions" / "contract").glob("*change_c_contract.py")
    c_contract.write_text(
        c_contract.read_text() + '\nec_reversible = False\nec_reason = "the marker is kept for auditors"\n'
    )
    monkeypatch.chdir(three.root)
    r = CliRunner().invoke(
        cli, ["downgrade", "--change", "change-a", "--phase", "contract", "--yes", "--database-url", database_url]
    )
    assert r.exit_code == 2 and "declared irreversible" in r.stderr and "nothing was changed" in r.stderr
    assert "IRREVERSIBLE (the marker is kept for auditors)" in r.stdout  # the preview marks it
    assert r.stdout.count(" - ") == 3
    assert _contract_states(three, database_url) == {
        "change-a": "applied",
        "change-b": "applied",
        "change-c": "applied",
    }


def test_a_failing_downgrade_names_its_revision_and_doctor_reports_the_half_done_state(
    three: ProjectFactory, database_url: str, notify: Callable[[str], None], notes: list[str]
) -> None:
    (b_contract,) = (three.root / "migrations" / "versions" / "contract").glob("*change_b_contract.py")
    b_id = b_contract.read_text().split("revision = '")[1].split("'")[0]
    b_contract.write_text(
        b_contract.read_text().replace('op.execute("DROP TABLE done_b")', 'op.execute("DROP TABLE nope")')
    )
    project = three.project()
    with pytest.raises(PhaseFailed, match=b_id):
        run_downgrade(project, database_url, "change-a", "contract", notify=notify, confirm=lambda p: True)
    assert any("undone before the failure:" in n for n in notes)
    assert _contract_states(three, database_url) == {
        "change-a": "applied",
        "change-b": "applied",
        "change-c": "pending",
    }
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT outcome, failed_revision FROM expandcontract.runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row == ("failed", b_id)
    (half,) = [f for f in diagnose(project, database_url) if f.kind == "half-done-downgrade"]
    assert f"{b_id} failed" in half.message and "still applied" in half.message
    assert "expandcontract downgrade --change change-a --phase contract" in half.repair


def test_a_backfill_fills_again_after_its_revision_was_downgraded(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None]
) -> None:
    factory.new(
        "users",
        expand='op.execute("CREATE TABLE users (id bigint PRIMARY KEY)")\n'
        'op.execute("INSERT INTO users SELECT generate_series(1, 300)")\n'
        'op.execute("ALTER TABLE users ADD COLUMN flag boolean")',
        expand_down='op.execute("DROP TABLE users")',
        migrate='op.backfill("users", values={"flag": "true"})',
    )
    project = factory.project()
    run_phase(project, database_url, "expand", None, notify=notify)
    run_phase(project, database_url, "migrate", None, notify=notify)
    run_downgrade(project, database_url, "users", "expand", notify=notify, confirm=lambda p: True)
    run_phase(project, database_url, "expand", None, notify=notify)
    run_phase(project, database_url, "migrate", None, notify=notify)
    with connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE flag").fetchone() == (300,)


def test_downgrade_json_preview_goes_to_stderr(
    three: ProjectFactory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(three.root)
    r = CliRunner().invoke(
        cli,
        ["downgrade", "--change", "change-c", "--phase", "contract", "--yes", "--format", "json"],
        env={"DATABASE_URL": database_url},
    )
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["removed"]) == 1 and "undoes 1 revision(s)" in r.stderr
    assert Path(three.root).is_dir()
