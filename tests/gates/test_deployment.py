"""Rolling Deployment decisions on kubectl-shaped fixtures, every state of gates.md."""

from __future__ import annotations

import pytest

from expandcontract.gates.deployment import kubectl_status

from .conftest import NEW, OLD, codes, decide_on, deciding, find, find_all, load


def test_complete_at_new_allows_migrate_and_blocks_contract() -> None:
    objs = load("deployment-complete.yaml")
    assert decide_on(objs, "migrate", "Deployment").decision == "allow"
    contract = decide_on(objs, "contract", "Deployment")
    assert contract.decision == "blocked"
    assert deciding(contract) == {"INCOMPATIBLE_PODS"}
    reason = contract.deciding()[0]
    assert len([o for o in reason.objects if o.startswith("Pod ")]) == 3
    assert "Deployment shop/web (template)" in reason.objects
    assert "deploy an image built after the contract" in reason.message


def test_complete_at_final_allows_contract_and_cold_history_does_not_count() -> None:
    objs = load("deployment-complete.yaml", shift=True)  # older ReplicaSets (now NEW) are at 0
    decision = decide_on(objs, "contract", "Deployment")
    assert decision.decision == "allow", decision.summary()
    assert decision.exit_code == 0
    assert decision.observed["pods"] == {"FINAL": 3}


def test_mid_rollout_blocks_migrate_with_rollout_in_progress() -> None:
    objs = load("deployment-mid.yaml")
    decision = decide_on(objs, "migrate", "Deployment")
    assert decision.decision == "blocked"
    assert decision.exit_code == 3
    assert "ROLLOUT_IN_PROGRESS" in codes(decision)
    old = next(r for r in decision.reasons if r.code == "ROLLOUT_IN_PROGRESS" and r.objects[0].startswith("Pod"))
    assert len(old.objects) == 2 + 1  # two old pods and the old ReplicaSet's template
    assert "1 out of 3" not in decision.summary()
    assert 'Waiting for deployment "web" rollout to finish: 2 out of 3 new replicas' in " ".join(
        r.message for r in decision.reasons
    )


def test_mid_rollout_old_pods_block_contract_and_undo_expand_sees_new_pods() -> None:
    objs = load("deployment-mid.yaml", shift=True)
    assert deciding(decide_on(objs, "contract", "Deployment")) == {"INCOMPATIBLE_PODS"}
    undo = decide_on(load("deployment-mid.yaml"), "undo-expand", "Deployment")
    assert undo.decision == "blocked"
    assert codes(undo) == {"NEW_PODS_DEPEND_ON_EXPAND"}


def test_terminating_old_pods_block_contract_though_kubectl_says_done() -> None:
    objs = load("deployment-terminating.yaml", shift=True)
    dep = find(objs, "Deployment")
    assert kubectl_status(dep)[0] == "Complete"
    decision = decide_on(objs, "contract", "Deployment")
    assert decision.decision == "blocked"
    assert codes(decision) == {"TERMINATING_PODS"}
    assert len(decision.reasons[0].objects) == 2
    migrate = decide_on(load("deployment-terminating.yaml"), "migrate", "Deployment")
    assert "ROLLOUT_IN_PROGRESS" in codes(migrate)


def test_terminating_pods_of_the_current_template_do_not_block() -> None:
    objs = load("deployment-complete.yaml", shift=True)
    find_all(objs, "Pod")[0]["metadata"]["deletionTimestamp"] = "2026-11-25T09:15:02Z"
    for owner in (find(objs, "Deployment"), *find_all(objs, "ReplicaSet")):  # its replacement is not up yet
        if owner["status"].get("replicas"):
            owner["status"]["replicas"] -= 1
    assert decide_on(objs, "contract", "Deployment").decision == "allow"


def test_finished_pods_do_not_count() -> None:
    objs = load("deployment-terminating.yaml", shift=True)
    for pod in find_all(objs, "Pod"):
        if "deletionTimestamp" in pod["metadata"]:
            pod["status"]["phase"] = "Succeeded"
    assert decide_on(objs, "contract", "Deployment").decision == "allow"


def test_paused_mid_rollout_blocks_and_says_paused() -> None:
    objs = load("deployment-mid.yaml")
    find(objs, "Deployment")["spec"]["paused"] = True
    decision = decide_on(objs, "migrate", "Deployment")
    assert decision.decision == "blocked"
    assert decision.observed["phase"] == "Paused"
    assert "paused" in " ".join(r.message for r in decision.reasons)


def test_stale_status_is_unknown_even_with_blocking_pods() -> None:
    objs = load("deployment-mid.yaml")
    find(objs, "Deployment")["metadata"]["generation"] = 9
    decision = decide_on(objs, "migrate", "Deployment")
    assert decision.decision == "unknown"
    assert decision.exit_code == 4
    assert deciding(decision) == {"STATUS_NOT_OBSERVED"}


def test_stale_status_wins_over_deny() -> None:
    objs = load("deployment-mid.yaml")
    dep = find(objs, "Deployment")
    dep["metadata"]["generation"] = 9
    dep["status"]["conditions"][1]["reason"] = "ProgressDeadlineExceeded"
    assert decide_on(objs, "contract", "Deployment").decision == "unknown"


def test_progress_deadline_exceeded_denies_migrate_and_contract_not_undo_expand() -> None:
    objs = load("deployment-mid.yaml")
    cond = find(objs, "Deployment")["status"]["conditions"][1]
    cond.update(status="False", reason="ProgressDeadlineExceeded")
    for phase in ("migrate", "contract"):
        decision = decide_on(objs, phase, "Deployment")
        assert decision.decision == "deny", phase
        assert decision.exit_code == 5
        assert deciding(decision) == {"PROGRESS_DEADLINE_EXCEEDED"}
    undo = decide_on(objs, "undo-expand", "Deployment")
    assert undo.decision == "blocked"  # the NEW pods still need the expand


def test_unknown_progressing_reason_is_unknown() -> None:
    objs = load("deployment-complete.yaml")
    find(objs, "Deployment")["status"]["conditions"][1]["reason"] = "SomethingNewIn1_40"
    decision = decide_on(objs, "migrate", "Deployment")
    assert decision.decision == "unknown"
    assert deciding(decision) == {"UNKNOWN_VALUE"}


def test_unstamped_pod_is_unknown_and_deny_beats_it() -> None:
    objs = load("deployment-complete.yaml")
    pod = find_all(objs, "Pod")[0]
    del pod["metadata"]["annotations"]
    decision = decide_on(objs, "migrate", "Deployment")
    assert decision.decision == "unknown"
    assert deciding(decision) == {"UNSTAMPED_POD"}
    assert "expandcontract heads --stamp" in decision.reasons[0].message
    find(objs, "Deployment")["status"]["conditions"][1]["reason"] = "ProgressDeadlineExceeded"
    assert decide_on(objs, "migrate", "Deployment").decision == "deny"


def test_stamp_with_unknown_revision_is_unknown() -> None:
    objs = load("deployment-complete.yaml")
    find_all(objs, "Pod")[1]["metadata"]["annotations"]["expandcontract.io/schema"] = "expand=ffff,migrate=-,contract=-"
    decision = decide_on(objs, "contract", "Deployment")
    assert decision.decision == "unknown"
    assert "UNKNOWN_STAMP" in deciding(decision)


def test_expand_always_allows_and_warns_new_before_expand() -> None:
    objs = load("deployment-mid.yaml")
    find(objs, "Deployment")["metadata"]["generation"] = 99  # even untrusted status does not stop expand
    decision = decide_on(objs, "expand", "Deployment")
    assert decision.decision == "allow"
    assert decision.exit_code == 0
    assert "NEW_BEFORE_EXPAND" in codes(decision)
    quiet = decide_on(load("deployment-complete.yaml", shift=False), "expand", "Deployment")
    assert quiet.decision == "allow"


def test_old_template_scaled_up_counts_even_without_pods() -> None:
    objs = load("deployment-complete.yaml", shift=True)
    old_rs = find(objs, "ReplicaSet", "web-5d8c7f9b4")
    old_rs["spec"]["replicas"] = 1  # scaling up, pod not created yet
    decision = decide_on(objs, "contract", "Deployment")
    assert decision.decision == "blocked"
    assert "ReplicaSet shop/web-5d8c7f9b4 (template)" in decision.reasons[0].objects


def test_pod_of_a_deleted_replicaset_still_counts() -> None:
    objs = load("deployment-terminating.yaml", shift=True)
    objs = [o for o in objs if not (o["kind"] == "ReplicaSet" and o["metadata"]["name"] == "web-5d8c7f9b4")]
    assert decide_on(objs, "contract", "Deployment").decision == "blocked"


def test_pods_of_other_controllers_matching_the_selector_do_not_count() -> None:
    objs = load("deployment-complete.yaml", shift=True)
    stray = find_all(objs, "Pod")[0]
    import copy

    other = copy.deepcopy(stray)
    other["metadata"]["name"] = "web-batch-0"
    other["metadata"]["ownerReferences"] = [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "web-batch", "uid": "0000", "controller": True}
    ]
    other["metadata"]["annotations"]["expandcontract.io/schema"] = OLD
    assert decide_on([*objs, other], "contract", "Deployment").decision == "allow"


def test_missing_deployment_is_unknown() -> None:
    decision = decide_on(load("deployment-complete.yaml"), "migrate", "Deployment", name="api")
    assert decision.decision == "unknown"
    assert codes(decision) == {"NOT_FOUND"}


@pytest.mark.parametrize("phase", ["migrate", "contract", "undo-expand"])
def test_json_document_shape(phase: str) -> None:
    import json

    doc = json.loads(decide_on(load("deployment-mid.yaml"), phase, "Deployment").to_json())
    assert set(doc) >= {"decision", "phase", "strategy", "target", "reasons", "observed", "checked_at"}
    assert doc["strategy"] == "rolling"
    assert doc["target"] == {"kind": "Deployment", "name": "web", "namespace": "shop"}
    assert set(doc["observed"]) >= {"generation", "observedGeneration", "phase", "step", "weights"}
    for reason in doc["reasons"]:
        assert set(reason) >= {"code", "message", "objects"}
    assert NEW  # fixtures use the stamps the fake classifier knows
