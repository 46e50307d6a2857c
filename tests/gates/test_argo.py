"""Argo Rollouts canary and blueGreen: paused, promoted, scale-down delay, rollback window, abort,
degraded, stale status, mirroring, unknown phases."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .conftest import OLD, codes, decide_on, deciding, find, find_all, load


def rollout(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(objs, "Rollout")


def test_paused_canary_blocks_migrate_and_names_the_stable_pods() -> None:
    decision = decide_on(load("argo-canary-paused.yaml"), "migrate", "Rollout")
    assert decision.decision == "blocked"
    assert codes(decision) == {"ROLLOUT_IN_PROGRESS"}
    pods = [o for r in decision.reasons for o in r.objects if o.startswith("Pod")]
    assert len(pods) == 4
    assert decision.observed["step"] == 1
    assert decision.observed["weights"]["canary"]["weight"] == 20
    assert decision.observed["phase"] == "Paused"


def test_paused_canary_blocks_contract_on_canary_and_stable() -> None:
    decision = decide_on(load("argo-canary-paused.yaml", shift=True), "contract", "Rollout")
    assert decision.decision == "blocked"
    assert codes(decision) == {"INCOMPATIBLE_PODS"}


def test_undo_expand_sees_the_canary() -> None:
    decision = decide_on(load("argo-canary-paused.yaml"), "undo-expand", "Rollout")
    assert codes(decision) == {"NEW_PODS_DEPEND_ON_EXPAND"}
    assert any("8d6c5f9b4" in o for o in decision.reasons[0].objects)


def test_healthy_with_scale_down_delay_pending_blocks() -> None:
    objs = load("argo-canary-scaledown.yaml")
    migrate = decide_on(objs, "migrate", "Rollout")
    assert migrate.decision == "blocked"
    assert codes(migrate) == {"HOT_ROLLBACK_TARGET"}
    assert "scale-down-deadline" in migrate.reasons[0].message
    contract = decide_on(load("argo-canary-scaledown.yaml", shift=True), "contract", "Rollout")
    assert codes(contract) == {"HOT_ROLLBACK_TARGET"}


def test_prefixed_scale_down_annotation_is_read_too() -> None:
    objs = load("argo-canary-scaledown.yaml")
    rs = find(objs, "ReplicaSet", "web-6f4b8c9d7")
    ann = rs["metadata"]["annotations"]
    ann["argo-rollouts.argoproj.io/scale-down-deadline"] = ann.pop("scale-down-deadline")
    assert codes(decide_on(objs, "migrate", "Rollout")) == {"HOT_ROLLBACK_TARGET"}


def scaled_down(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rs = find(objs, "ReplicaSet", "web-6f4b8c9d7")
    del rs["metadata"]["annotations"]["scale-down-deadline"]
    rs["spec"]["replicas"] = 0
    rs["status"] = {"observedGeneration": 3}
    rollout(objs)["status"]["replicas"] = 4  # the controller's count follows the scale-down
    return [o for o in objs if not (o["kind"] == "Pod" and o["metadata"]["name"].startswith("web-6f4b8c9d7"))]


def test_complete_after_scale_down_allows() -> None:
    assert decide_on(scaled_down(load("argo-canary-scaledown.yaml")), "migrate", "Rollout").decision == "allow"
    final = scaled_down(load("argo-canary-scaledown.yaml", shift=True))
    assert decide_on(final, "contract", "Rollout").decision == "allow"


def test_rollback_window_blocks_contract_as_fast_rollback_window() -> None:
    objs = scaled_down(load("argo-canary-scaledown.yaml", shift=True))
    rollout(objs)["spec"]["rollbackWindow"] = {"revisions": 1}
    decision = decide_on(objs, "contract", "Rollout")
    assert decision.decision == "blocked"
    assert codes(decision) == {"FAST_ROLLBACK_WINDOW"}
    assert decision.reasons[0].objects == ("ReplicaSet shop/web-6f4b8c9d7 (template)",)
    rollout(objs)["spec"]["rollbackWindow"] = {"revisions": 2}  # revision 4 (web-7c9d8b6f5) too
    assert len(decide_on(objs, "contract", "Rollout").reasons[0].objects) == 2


def test_rollback_window_with_old_revision_blocks_migrate_too() -> None:
    objs = scaled_down(load("argo-canary-scaledown.yaml"))
    rollout(objs)["spec"]["rollbackWindow"] = {"revisions": 1}
    assert codes(decide_on(objs, "migrate", "Rollout")) == {"HOT_ROLLBACK_TARGET"}


@pytest.mark.parametrize("phase", ["migrate", "contract"])
def test_abort_denies(phase: str) -> None:
    objs = load("argo-canary-paused.yaml")
    status = rollout(objs)["status"]
    status.update(abort=True, phase="Degraded", message="RolloutAborted: metric error-rate failed")
    decision = decide_on(objs, phase, "Rollout")
    assert decision.decision == "deny"
    assert decision.exit_code == 5
    assert {"ROLLOUT_ABORTED", "ROLLOUT_DEGRADED"} <= deciding(decision)


def test_rollout_aborted_reason_and_progress_deadline_deny() -> None:
    for reason in ("RolloutAborted", "ProgressDeadlineExceeded"):
        objs = load("argo-canary-paused.yaml")
        find_progressing = next(c for c in rollout(objs)["status"]["conditions"] if c["type"] == "Progressing")
        find_progressing["reason"] = reason
        assert decide_on(objs, "migrate", "Rollout").decision == "deny", reason


def test_degraded_denies_but_undo_expand_still_looks_at_pods() -> None:
    objs = load("argo-canary-paused.yaml")
    rollout(objs)["status"]["phase"] = "Degraded"
    assert decide_on(objs, "contract", "Rollout").decision == "deny"
    undo = decide_on(objs, "undo-expand", "Rollout")
    assert undo.decision == "blocked"
    assert "ROLLOUT_DEGRADED" in codes(undo)


def test_stale_status_string_observed_generation() -> None:
    objs = scaled_down(load("argo-canary-scaledown.yaml"))
    assert rollout(objs)["status"]["observedGeneration"] == "12"  # a string, as Argo writes it
    assert decide_on(objs, "migrate", "Rollout").decision == "allow"
    rollout(objs)["metadata"]["generation"] = 13
    decision = decide_on(objs, "migrate", "Rollout")
    assert decision.decision == "unknown"
    assert deciding(decision) == {"STATUS_NOT_OBSERVED"}
    rollout(objs)["status"]["abort"] = True
    assert decide_on(objs, "migrate", "Rollout").decision == "unknown"  # untrusted beats deny


def test_controller_pause_without_pause_conditions_is_untrusted() -> None:
    objs = scaled_down(load("argo-canary-scaledown.yaml"))
    rollout(objs)["status"]["controllerPause"] = True
    assert decide_on(objs, "migrate", "Rollout").decision == "unknown"


@pytest.mark.parametrize("phase", ["Suspended", None])
def test_unknown_phase_is_unknown(phase: str | None) -> None:
    objs = scaled_down(load("argo-canary-scaledown.yaml"))
    rollout(objs)["status"]["phase"] = phase
    decision = decide_on(objs, "migrate", "Rollout")
    assert decision.decision == "unknown"
    assert "UNKNOWN_VALUE" in codes(decision)


def test_mirror_route_active_blocks_migrate_until_removed() -> None:
    objs = load("argo-canary-paused.yaml", shift=True)  # stable NEW, canary FINAL: pods alone would allow
    ro = rollout(objs)
    ro["spec"]["strategy"]["canary"]["steps"] = [
        {"setMirrorRoute": {"name": "shadow", "percentage": 100, "match": [{"method": {"exact": "POST"}}]}},
        {"pause": {}},
        {"setMirrorRoute": {"name": "shadow"}},
        {"setWeight": 50},
    ]
    ro["status"]["currentStepIndex"] = 1
    decision = decide_on(objs, "migrate", "Rollout")
    assert "MIRROR_ACTIVE" in codes(decision)
    assert decision.decision == "blocked"
    ro["status"]["currentStepIndex"] = 3  # the removal step (index 2) has run
    assert "MIRROR_ACTIVE" not in codes(decide_on(objs, "migrate", "Rollout"))
    ro["status"]["currentStepIndex"] = 0  # the mirror step itself has not run yet
    assert "MIRROR_ACTIVE" not in codes(decide_on(objs, "migrate", "Rollout"))


def test_bluegreen_preview_runs_new_code_before_promotion() -> None:
    objs = load("argo-bluegreen-preview.yaml")
    undo = decide_on(objs, "undo-expand", "Rollout")
    assert undo.decision == "blocked"
    migrate = decide_on(objs, "migrate", "Rollout")
    assert codes(migrate) == {"ROLLOUT_IN_PROGRESS"}  # the active side is OLD
    contract = decide_on(load("argo-bluegreen-preview.yaml", shift=True), "contract", "Rollout")
    assert contract.decision == "blocked"  # the active side (now NEW) still needs the old schema
    assert all("6f4b8c9d7" in o for r in contract.reasons for o in r.objects)
    unpromoted = decide_on(objs, "contract", "Rollout")  # preview NEW, not FINAL
    assert any(r.message.startswith("preview") for r in unpromoted.reasons)


def test_unstamped_canary_pod_is_unknown() -> None:
    objs = load("argo-canary-paused.yaml")
    pod = find_all(objs, "Pod", "web-8d6c5f9b4")[0]
    pod["metadata"].pop("annotations")
    assert decide_on(objs, "migrate", "Rollout").decision == "unknown"


def test_missing_rollout_is_unknown() -> None:
    decision = decide_on(load("argo-canary-paused.yaml"), "migrate", "Rollout", name="api")
    assert decision.decision == "unknown"


def test_terminating_pods_after_scale_down_block_contract() -> None:
    objs = load("argo-canary-scaledown.yaml", shift=True)
    rs = find(objs, "ReplicaSet", "web-6f4b8c9d7")
    del rs["metadata"]["annotations"]["scale-down-deadline"]
    rs["spec"]["replicas"] = 0
    rs["status"] = {"observedGeneration": 3}
    rollout(objs)["status"]["replicas"] = 4  # terminating pods are not in status.replicas
    for pod in find_all(objs, "Pod", "web-6f4b8c9d7"):
        pod["metadata"]["deletionTimestamp"] = "2026-11-25T09:31:40Z"
    decision = decide_on(objs, "contract", "Rollout")
    assert codes(decision) == {"TERMINATING_PODS"}
    assert len(decision.reasons[0].objects) == 4


def _workload_ref(objs: list[dict[str, Any]]) -> dict[str, Any]:
    """Turn the fixture's Rollout into one that takes its template from Deployment `web` (scaled to 0 by
    Argo, as with workloadRef.scaleDown: onsuccess), with the annotations Argo writes."""
    ro = rollout(objs)
    template = ro["spec"].pop("template")
    ro["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "scaleDown": "onsuccess"}
    ro["metadata"].setdefault("annotations", {})["rollout.argoproj.io/workload-generation"] = "3"
    ro["status"]["workloadObservedGeneration"] = "3"
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "generation": 3, "uid": "dep-web-uid"},
        "spec": {"replicas": 0, "selector": ro["spec"]["selector"], "template": template},
        "status": {"observedGeneration": 3},
    }
    objs.append(dep)
    return dep


def test_workload_ref_rollout_is_judged_by_the_referenced_template() -> None:
    objs = scaled_down(load("argo-canary-scaledown.yaml", shift=True))
    dep = _workload_ref(objs)
    assert decide_on(objs, "contract", "Rollout").decision == "allow"
    # the referenced Deployment changes to an OLD template: Argo has not observed it yet -> untrusted
    dep["spec"]["template"]["metadata"]["annotations"]["expandcontract.io/schema"] = OLD
    dep["metadata"]["generation"] = 4
    rollout(objs)["metadata"]["annotations"]["rollout.argoproj.io/workload-generation"] = "4"
    decision = decide_on(objs, "contract", "Rollout")
    assert deciding(decision) == {"STATUS_NOT_OBSERVED"}
    # once observed, the template Argo converges to is OLD: the contract must wait (this allowed before)
    rollout(objs)["status"]["workloadObservedGeneration"] = "4"
    decision = decide_on(objs, "contract", "Rollout")
    assert decision.decision == "blocked"
    assert any("Deployment shop/web (template)" in r.objects for r in decision.reasons)


def test_workload_ref_deployment_missing_is_unknown_and_its_own_pods_count() -> None:
    objs = scaled_down(load("argo-canary-scaledown.yaml", shift=True))
    dep = _workload_ref(objs)
    objs.remove(dep)
    assert "NOT_FOUND" in deciding(decide_on(objs, "contract", "Rollout"))
    objs.append(dep)
    pod = copy.deepcopy(find_all(objs, "Pod")[0])
    rs = copy.deepcopy(find(objs, "ReplicaSet", "web-8d6c5f9b4"))
    rs["metadata"].update(
        name="web-5f5f5f5f5",
        uid="dep-rs-uid",
        ownerReferences=[
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "dep-web-uid", "controller": True}
        ],
    )
    rs["spec"]["template"]["metadata"]["annotations"]["expandcontract.io/schema"] = OLD
    rs["status"] = {"replicas": 1}
    pod["metadata"].update(name="web-5f5f5f5f5-abcde", uid="dep-pod-uid")
    pod["metadata"]["ownerReferences"][0].update(name="web-5f5f5f5f5", uid="dep-rs-uid")
    pod["metadata"]["annotations"]["expandcontract.io/schema"] = OLD
    objs += [rs, pod]
    decision = decide_on(objs, "contract", "Rollout")  # workloadRef.scaleDown: never keeps them serving
    assert decision.decision == "blocked"
    assert "Pod shop/web-5f5f5f5f5-abcde" in {o for r in decision.reasons for o in r.objects}
