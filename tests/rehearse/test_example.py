"""The shipped example rehearsed: its history is clean, the naive one-step rename fails, and a new release
that maps the widened key naively shows `cached plan must not change result type` after the swap."""

from __future__ import annotations

from pathlib import Path

import pytest

from expandcontract.config import load_config
from expandcontract.demo import copy_example, example_at, naive_rename
from expandcontract.phases.project import load_project
from expandcontract.rehearse import Options, Report, rehearse

pytestmark = pytest.mark.integration

FAST = Options(rows=300, seconds=0.4)


def run(new: Path, old: Path, old_models: str, new_models: str | None, server: str, **opts: object) -> Report:
    project = load_project(load_config(start=new))
    options = Options(**{**FAST.__dict__, **opts})  # type: ignore[arg-type]
    return rehearse(project, old=old, old_models=old_models, new_models=new_models, options=options, server_url=server)


def test_the_example_history_rehearses_clean(tmp_path: Path, pg_server_url: str) -> None:
    new = copy_example(tmp_path / "new")
    old = example_at(tmp_path / "old", "initial-schema")
    report = run(new, old, "app.releases.initial_schema:Base", None, pg_server_url)
    assert report.ok, report.render_text()
    assert report.changes == ["users-email-verified", "users-full-name", "orders-id-bigint"]
    assert [(s.step, s.change, s.release) for s in report.steps] == [
        ("baseline", "users-email-verified", "old"),
        ("expand", "users-email-verified", "old"),
        ("expand", "users-full-name", "old"),
        ("expand", "orders-id-bigint", "old"),
        ("both", "orders-id-bigint", "old"),
        ("both", "orders-id-bigint", "new"),
        ("rollback", "orders-id-bigint", "old"),
        ("new", "orders-id-bigint", "new"),
        ("migrate", "users-email-verified", "new"),
        ("migrate", "users-full-name", "new"),
        ("migrate", "orders-id-bigint", "new"),
        ("contract", "users-email-verified", "new"),
        ("contract", "users-full-name", "new"),
        ("contract", "orders-id-bigint", "new"),
    ]
    assert all(s.ops > 0 and s.errors == 0 for s in report.steps), report.render_text()
    probed = [n for n in report.notes if n.startswith("users.name -> users.full_name")]
    assert probed and " 0 differed" in probed[0] and not probed[0].startswith("users.name -> users.full_name: 0 ")
    doc = report.to_dict()
    assert doc["ok"] is True and doc["problems"] == []
    assert set(doc["steps"][0]) >= {"change", "phase", "release", "ops", "errors", "p99_ms", "max_lock_wait_ms"}


def test_the_naive_one_step_rename_fails_in_its_expand_for_the_old_release(tmp_path: Path, pg_server_url: str) -> None:
    new = naive_rename(tmp_path / "new")
    old = example_at(tmp_path / "old", "users-email-verified")
    report = run(new, old, "app.releases.users_email_verified:Base", "app.releases.users_full_name:Base", pg_server_url)
    assert not report.ok
    first = report.problems[0]
    assert (first.kind, first.change, first.phase, first.release, first.step) == (
        "app-error",
        "users-full-name",
        "expand",
        "old",
        "expand",
    ), report.render_text()
    assert "UndefinedColumn" in first.message and "name" in (first.sql or "")
    kinds = {(p.kind, p.phase, p.release, p.step) for p in report.problems}
    assert ("app-error", "expand", "old", "rollback") in kinds  # the rollback target is broken too
    assert not any(p.release == "new" for p in report.problems)  # the new release is fine with it
    assert "rehearse: FAILED" in report.render_text()


def test_a_naive_mapping_of_the_widened_key_fails_after_the_contract(tmp_path: Path, pg_server_url: str) -> None:
    new = example_at(tmp_path / "new", "orders-id-bigint")
    naive = new / "app" / "naive.py"
    source = (new / "app" / "releases" / "orders_id_bigint.py").read_text()
    naive.write_text(
        source.replace("sa.Column(BigIntKey, primary_key=True)", "sa.Column(sa.BigInteger, primary_key=True)")
    )
    old = example_at(tmp_path / "old", "users-full-name")
    report = run(new, old, "app.releases.users_full_name:Base", "app/naive.py:Base", pg_server_url, seconds=0.8)
    assert not report.ok
    assert {(p.kind, p.change, p.phase, p.release) for p in report.problems} == {
        ("app-error", "orders-id-bigint", "contract", "new")
    }, report.render_text()
    assert all("cached plan must not change result type" in p.message for p in report.problems)


def test_the_traffic_hook_runs_sql_the_models_do_not_show(tmp_path: Path, pg_server_url: str) -> None:
    """The new release still reads users.name in raw SQL: only its hook can show the contract breaks it."""
    new = example_at(tmp_path / "new", "users-full-name")
    (new / "app" / "report.py").write_text(
        "import sqlalchemy as sa\n\n\n"
        "def traffic(connection: sa.Connection) -> None:\n"
        '    connection.execute(sa.text("SELECT count(*) FROM users WHERE name IS NULL")).scalar()\n'
    )
    pyproject = new / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "require_gate = false\n", 'require_gate = false\ntraffic = "app.report:traffic"\n'
        )
    )
    old = example_at(tmp_path / "old", "users-email-verified")
    report = run(new, old, "app.releases.users_email_verified:Base", "app.releases.users_full_name:Base", pg_server_url)
    assert {(p.kind, p.phase, p.release) for p in report.problems} == {("app-error", "contract", "new")}, (
        report.render_text()
    )
    for problem in report.problems:  # one per wording of the error (a prepared statement adds its position)
        assert "traffic hook app.report:traffic" in problem.message and "UndefinedColumn" in problem.message
        assert problem.sql == "SELECT count(*) FROM users WHERE name IS NULL"
