"""The pure parts of rehearse: which revisions are pending, the step sequence, ec_renames, SPECs, the report."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from expandcontract.config import load_config
from expandcontract.demo import copy_example
from expandcontract.errors import ProjectError, UsageError
from expandcontract.phases.project import Project, Revision, load_project
from expandcontract.rehearse import Problem, Report, StepRow
from expandcontract.rehearse.renames import Rename, declared
from expandcontract.rehearse.spec import check
from expandcontract.rehearse.steps import pending_changes, plan


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return load_project(load_config(start=copy_example(tmp_path_factory.mktemp("ex") / "app")))


def test_pending_is_what_the_old_release_lacks_grouped_by_change(example: Project) -> None:
    applied = {"ex01_initial_schema", "ex02_users_email_verified", "mg02_users_email_verified"}
    pending = pending_changes(example, applied)
    assert [p.change for p in pending] == ["users-email-verified", "users-full-name", "orders-id-bigint"]
    assert {ph: [r.id for r in revs] for ph, revs in pending[0].revisions.items()} == {
        "contract": ["ct02_users_email_verified"]
    }
    assert pending_changes(example, set(example.revisions)) == []


def test_one_change_runs_the_designed_sequence(example: Project) -> None:
    (pending,) = [
        p
        for p in pending_changes(
            example,
            set(example.revisions) - {"ct04_orders_id_bigint", "mg04_orders_id_bigint", "ex04_orders_id_bigint"},
        )
    ]
    steps = plan([pending], old=True)
    assert [(s.step, s.phase, s.releases, s.run) for s in steps] == [
        ("baseline", "expand", ("old",), None),
        ("expand", "expand", ("old",), ("expand", "orders-id-bigint")),
        ("both", "expand", ("old", "new"), None),
        ("rollback", "expand", ("old",), None),
        ("new", "expand", ("new",), None),
        ("migrate", "migrate", ("new",), ("migrate", "orders-id-bigint")),
        ("contract", "contract", ("new",), ("contract", "orders-id-bigint")),
    ]
    assert all(s.change == "orders-id-bigint" for s in steps)


def test_without_an_old_release_or_anything_pending(example: Project) -> None:
    steps = plan(pending_changes(example, set()), old=False)
    assert all("old" not in s.releases for s in steps)
    assert steps[0].step == "baseline" and steps[0].releases == ()
    code_only = plan([], old=True)
    assert [s.step for s in code_only] == ["baseline", "both", "new"]  # no expand: nothing to roll back


def _rev(renames: object) -> Revision:
    return Revision(
        "r1", "expand", Path("r1.py"), "", (), (), "c", "expand", module=types.SimpleNamespace(ec_renames=renames)
    )


def test_ec_renames_shapes() -> None:
    assert declared([_rev({"users.name": "users.full_name"})]) == [Rename("c", "users", "name", "full_name")]
    assert declared([_rev({"audit.log.who": "audit.log.actor"})]) == [Rename("c", "audit.log", "who", "actor")]
    for bad in (["users.name"], {"users.name": "people.name"}, {"name": "full_name"}):
        with pytest.raises(ProjectError, match="ec_renames"):
            declared([_rev(bad)])


def test_model_specs() -> None:
    assert check("app.models:Base", "models") == ("app.models", "Base")
    assert check("src/app/models.py:metadata", "models") == ("src/app/models.py", "metadata")
    for bad in ("app.models", "app models:Base", ":Base", "app.models:"):
        with pytest.raises(UsageError, match=r"is not module\.path:attr|neither a module path"):
            check(bad, "--new-models")


def test_the_report_in_text_and_json() -> None:
    report = Report(old="origin/main", rows=100, changes=["users-full-name"], seconds=3.2)
    report.steps = [
        StepRow("users-full-name", "expand", "expand", "old", 120, 7, 4.25, 12.0, 2.0),
        StepRow("users-full-name", "migrate", "migrate", "new", 90, 0, 3.0, 0.0, 2.0),
    ]
    report.problems = [
        Problem(
            "app-error",
            "users-full-name",
            "expand",
            "old",
            "7 of 120 operations failed: ...",
            "UPDATE users ...",
            "expand",
            7,
        )
    ]
    text = report.render_text()
    lines = text.splitlines()
    assert lines[0].split() == [
        "change",
        "phase",
        "step",
        "release",
        "ops",
        "errors",
        "p99",
        "ms",
        "max",
        "lock",
        "wait",
        "ms",
    ]
    assert "app-error: users-full-name expand, old release: 7 of 120 operations failed" in text
    assert "    sql: UPDATE users ..." in text
    assert (
        lines[-1]
        == "rehearse: FAILED: 1 problem(s): 1 app-error (1 change(s) since origin/main, 210 app operations, 3.2s)"
    )
    doc = report.to_dict()
    assert doc["ok"] is False
    assert doc["problems"][0] == {
        "kind": "app-error",
        "change": "users-full-name",
        "phase": "expand",
        "release": "old",
        "message": "7 of 120 operations failed: ...",
        "sql": "UPDATE users ...",
        "step": "expand",
        "count": 7,
    }
    assert {"change", "phase", "release", "ops", "errors", "p99_ms", "max_lock_wait_ms"} <= set(doc["steps"][0])
