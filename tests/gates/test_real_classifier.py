"""The pure decisions driven by a real Classifier over a tiny Alembic project on disk (no database)."""

from __future__ import annotations

from pathlib import Path

from expandcontract.config import Config
from expandcontract.gates.evaluate import classifier_for, decide
from expandcontract.phases.project import load_project
from expandcontract.phases.stamp import PodClass, make_stamp

from .conftest import FINAL, FIXTURES, NEW, OLD, decide_on, load


def test_real_classifier_agrees_with_the_fake_one(project_root: Path) -> None:
    project = load_project(Config(root=project_root))
    classify = classifier_for(project, "users-email")
    assert classify(OLD)[0] is PodClass.OLD
    assert classify(NEW)[0] is PodClass.NEW
    assert classify(FINAL)[0] is PodClass.FINAL
    assert classify(None)[0] is PodClass.UNKNOWN
    assert classify("expand=ffffffffffff,migrate=-,contract=-")[0] is PodClass.UNKNOWN
    assert make_stamp(project) == FINAL  # what `expandcontract heads --stamp` would print


def test_decisions_with_the_real_classifier(project_root: Path) -> None:
    project = load_project(Config(root=project_root))
    classify = classifier_for(project, "users-email")
    objs = load("deployment-terminating.yaml", shift=True)
    decision = decide_on(objs, "contract", "Deployment", classify=classify)
    assert decision.decision == "blocked"
    assert {r.code for r in decision.reasons} == {"TERMINATING_PODS"}
    assert (
        decide_on(load("deployment-complete.yaml", shift=True), "contract", "Deployment", classify=classify).decision
        == "allow"
    )


def test_decide_entry_point_with_a_snapshot(project_root: Path) -> None:
    from expandcontract.config import RolloutConfig

    config = Config(root=project_root, rollout=RolloutConfig(kind="Rollout", name="web", namespace="shop"))
    project = load_project(config)
    decision = decide(config, project, "migrate", "users-email", snapshot=FIXTURES / "argo-canary-scaledown.yaml")
    assert decision.decision == "blocked"
    assert decision.exit_code == 3
    assert decision.reasons[0].code == "HOT_ROLLBACK_TARGET"
    assert decision.summary().startswith("migrate(users-email) blocked: Rollout shop/web:")
