"""The peers' own rules, case by case (issue 14 items 3 and 4), on fixtures shaped after their testdata.

- kubectl rollout_status.go DeploymentStatusViewer: `Generation <= Status.ObservedGeneration` is observed;
  a Deployment whose progressDeadlineSeconds is MaxInt32 has no Progressing condition and can be done.
- Argo Rollouts utils/rollout/rolloututil.go: isGenerationObserved (a non-numeric observedGeneration, the
  pre-1.0 hash form, counts as observed; so does a number ahead of metadata.generation);
  CalculateRolloutPhase (InvalidSpec condition, RolloutAborted / ProgressDeadlineExceeded -> Degraded);
  utils/conditions/conditions.go: the reasons Argo writes; rollout/experiment.go and
  experiments/replicaset.go: Experiment pods carry `rollouts-pod-template-hash` and their own labels.
- A snapshot that lacks a kind is unknown unless it holds an empty typed List of it; a Degraded /
  InvalidSpec / aborted rollout denies whether or not the ReplicaSets and Pods are there.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from expandcontract.gates.argo import REASONS
from expandcontract.gates.evaluate import evaluate
from expandcontract.gates.model import Target
from expandcontract.gates.sources import SnapshotSource

from .conftest import OLD, codes, decide_on, deciding, fake_classify, find, find_all, load
from .test_argo import rollout, scaled_down

SHOP = "shop"


def decide_file(path: Path, phase: str, kind: str, name: str = "web") -> Any:
    return evaluate(SnapshotSource(path), phase, "users-email", Target(kind, name, SHOP), fake_classify)


def write(tmp: Path, name: str, docs: list[dict[str, Any]]) -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump_all(docs))
    return path


# -- kubectl: Deployments --------------------------------------------------------------------------


def test_deployment_observed_generation_ahead_of_generation_counts_as_observed() -> None:
    objs = load("deployment-complete.yaml")
    dep = find(objs, "Deployment")
    dep["status"]["observedGeneration"] = dep["metadata"]["generation"] + 1
    assert decide_on(objs, "migrate", "Deployment").decision == "allow"
    dep["status"]["observedGeneration"] = dep["metadata"]["generation"] - 1
    assert deciding(decide_on(objs, "migrate", "Deployment")) == {"STATUS_NOT_OBSERVED"}


def test_deployment_without_a_progressing_condition_can_be_complete() -> None:
    objs = load("deployment-complete.yaml")
    dep = find(objs, "Deployment")
    dep["spec"]["progressDeadlineSeconds"] = 2147483647
    dep["status"]["conditions"] = [c for c in dep["status"]["conditions"] if c["type"] != "Progressing"]
    assert decide_on(objs, "migrate", "Deployment").decision == "allow"


def test_deployment_pods_the_snapshot_does_not_hold_are_unknown(tmp_path: Path) -> None:
    """Issue 14: pods the Deployment's status reports but the snapshot lacks let a contract through."""
    objs = load("deployment-complete.yaml", shift=True)
    objs.remove(find_all(objs, "Pod")[0])
    decision = decide_on(objs, "contract", "Deployment")
    assert decision.decision == "unknown"
    assert deciding(decision) == {"PODS_UNSEEN"}
    assert "reports 3 pods" in decision.deciding()[0].message


# -- Argo Rollouts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("observed", "verdict"), [("5d9c7b8f64", "allow"), ("13", "allow"), ("11", "unknown")])
def test_argo_observed_generation_forms(observed: str, verdict: str) -> None:
    objs = scaled_down(load("argo-canary-scaledown.yaml"))
    rollout(objs)["status"]["observedGeneration"] = observed  # generation is 12
    assert decide_on(objs, "migrate", "Rollout").decision == verdict


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_every_reason_argo_writes_is_known(reason: str) -> None:
    objs = scaled_down(load("argo-canary-scaledown.yaml"))
    next(c for c in rollout(objs)["status"]["conditions"] if c["type"] == "Progressing")["reason"] = reason
    assert "UNKNOWN_VALUE" not in codes(decide_on(objs, "migrate", "Rollout"))


def test_a_reason_argo_does_not_write_is_unknown() -> None:
    objs = scaled_down(load("argo-canary-scaledown.yaml"))
    next(c for c in rollout(objs)["status"]["conditions"] if c["type"] == "Progressing")["reason"] = "Exploded"
    assert deciding(decide_on(objs, "migrate", "Rollout")) == {"UNKNOWN_VALUE"}


def test_replicaset_not_available_is_progress_not_unknown() -> None:
    objs = load("argo-canary-paused.yaml", shift=True)
    ro = rollout(objs)
    next(c for c in ro["status"]["conditions"] if c["type"] == "Progressing")["reason"] = "ReplicaSetNotAvailable"
    ro["status"]["phase"] = "Progressing"
    assert deciding(decide_on(objs, "migrate", "Rollout")) == {"ROLLOUT_IN_PROGRESS"}


def experiment_pod(objs: list[dict[str, Any]], template_hash: str, stamp: str) -> dict[str, Any]:
    """A pod of an Experiment's ReplicaSet: the Rollout's template with extra labels (outside the
    Rollout's selector), the same pod-template-hash, owned by the Experiment's ReplicaSet."""
    pod = copy.deepcopy(find_all(objs, "Pod")[0])
    rs_name = f"web-{template_hash}-3-0-baseline"
    pod["metadata"].update(name=f"{rs_name}-x2k9q", uid="exp-pod-uid")
    pod["metadata"]["labels"] = {"app.kubernetes.io/name": "web-baseline", "rollouts-pod-template-hash": template_hash}
    pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name, "uid": "exp-rs-uid", "controller": True}
    ]
    pod["metadata"]["annotations"]["expandcontract.io/schema"] = stamp
    objs.append(pod)
    return pod


def test_experiment_pod_outside_the_selector_with_an_old_template_blocks_migrate() -> None:
    """Issue 14: an Experiment pod outside the Rollout's selector was not counted (wrongly allowed)."""
    objs = scaled_down(load("argo-canary-scaledown.yaml"))
    assert decide_on(objs, "migrate", "Rollout").decision == "allow"
    experiment_pod(objs, "6f4b8c9d7", OLD)  # the previous (scaled-down) stable template
    decision = decide_on(objs, "migrate", "Rollout")
    assert decision.decision == "blocked"
    assert "Pod shop/web-6f4b8c9d7-3-0-baseline-x2k9q" in {o for r in decision.reasons for o in r.objects}


def test_pods_with_a_hash_of_another_rollout_do_not_count() -> None:
    objs = scaled_down(load("argo-canary-scaledown.yaml"))
    experiment_pod(objs, "0000000000", OLD)
    assert decide_on(objs, "migrate", "Rollout").decision == "allow"


@pytest.mark.parametrize(
    "breakage",
    [
        {
            "conditions": [
                {"type": "InvalidSpec", "status": "True", "message": "The Rollout has missing field 'selector'"}
            ]
        },
        {"phase": "Degraded", "message": "RolloutAborted: metric error-rate failed"},
        {"abort": True},
    ],
    ids=["invalid-spec", "degraded", "aborted"],
)
def test_deny_outranks_a_snapshot_missing_replicasets_and_pods(tmp_path: Path, breakage: dict[str, Any]) -> None:
    ro = rollout(load("argo-canary-paused.yaml"))
    conditions = breakage.pop("conditions", [])
    ro["status"]["conditions"] = ro["status"]["conditions"] + conditions
    ro["status"].update(breakage)
    alone = write(tmp_path, "rollout-only.yaml", [ro])
    decision = decide_file(alone, "migrate", "Rollout")
    assert decision.decision == "deny", decision.summary()
    assert "INCOMPLETE_SNAPSHOT" in codes(decision)  # still said, but the deny decides


# -- snapshots: typed Lists, JSON -----------------------------------------------------------------


def test_an_empty_typed_list_says_there_are_none(tmp_path: Path) -> None:
    objs = load("deployment-complete.yaml")
    dep = find(objs, "Deployment")
    dep["spec"]["replicas"] = 0
    dep["status"] = {"observedGeneration": dep["metadata"]["generation"], "conditions": dep["status"]["conditions"]}
    rss = find_all(objs, "ReplicaSet")
    for rs in rss:
        rs["spec"]["replicas"], rs["status"] = 0, {"observedGeneration": 1}
    no_pods = write(tmp_path, "no-pods.yaml", [dep, *rss])
    assert deciding(decide_file(no_pods, "migrate", "Deployment")) == {"INCOMPLETE_SNAPSHOT"}
    typed = write(
        tmp_path, "typed.yaml", [dep, *rss, {"apiVersion": "v1", "kind": "PodList", "items": [], "metadata": {}}]
    )
    assert decide_file(typed, "migrate", "Deployment").decision == "allow"
    untyped = write(tmp_path, "untyped.yaml", [dep, *rss, {"apiVersion": "v1", "kind": "List", "items": []}])
    assert deciding(decide_file(untyped, "migrate", "Deployment")) == {"INCOMPLETE_SNAPSHOT"}


def test_json_snapshot_decides_like_the_yaml_one(tmp_path: Path) -> None:
    yaml_path = Path(__file__).parent / "fixtures" / "argo-canary-paused.yaml"
    doc = yaml.safe_load(yaml_path.read_text())
    json_path = tmp_path / "state.json"
    json_path.write_text(json.dumps(doc))
    a, b = decide_file(yaml_path, "migrate", "Rollout"), decide_file(json_path, "migrate", "Rollout")
    assert (a.decision, codes(a)) == (b.decision, codes(b)) == ("blocked", {"ROLLOUT_IN_PROGRESS"})
