"""Several targets and the workload kinds beside Deployments: StatefulSet, DaemonSet, Job, CronJob.

A phase is allowed only when every target allows it; a label selector over workloads finds the
targets (skipping what another selected target already judges, and unstamped Jobs); kubectl's
rollout_status.go semantics for StatefulSets and DaemonSets; pods a controller reports but the source
does not hold are unknown.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from expandcontract.config import Config, RolloutConfig, TargetConfig, load_config
from expandcontract.errors import ConfigError, UsageError
from expandcontract.gates.evaluate import Selection, evaluate_all, resolve, selection_from
from expandcontract.gates.model import Target
from expandcontract.gates.objects import ObjectSet
from expandcontract.gates.registry import KINDS, STRATEGIES

from .conftest import FINAL, NEW, OLD, codes, decide_on, deciding, fake_classify, find, find_all, load

SHOP = "shop"


class _Objects:
    """A reader over objects in hand (what a snapshot is), for the I/O-shaped entry points."""

    def __init__(self, objs: list[dict[str, Any]]) -> None:
        self.set = ObjectSet.of(copy.deepcopy(objs))

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        from expandcontract.gates.base import SourceError

        obj = self.set.get(kind, namespace, name)
        if obj is None:
            raise SourceError("NOT_FOUND", f"{kind} {namespace}/{name} not found")
        return obj

    def list(self, kind: str, namespace: str, selector: Any = None) -> list[dict[str, Any]]:
        return self.set.list(kind, namespace, selector)


def workloads() -> list[dict[str, Any]]:
    return load("workloads.yaml")


def both(objs: list[dict[str, Any]], phase: str, *targets: Target) -> Any:
    return evaluate_all(_Objects(objs), phase, "users-email", targets, fake_classify)


# -- selection: config and flags -----------------------------------------------------------------


def test_target_flag_parses_kind_namespace_name_and_rejects_other_shapes() -> None:
    config = Config(rollout=RolloutConfig(namespace="shop"))
    sel = selection_from(config, targets=("Deployment/shop/web", "StatefulSet/ledger"))
    assert sel.targets == (Target("Deployment", "web", "shop"), Target("StatefulSet", "ledger", "shop"))
    for bad in ("Deployment", "Deployment//web", "a/b/c/d"):
        with pytest.raises(UsageError, match="KIND/NAMESPACE/NAME"):
            selection_from(config, targets=(bad,))
    with pytest.raises(UsageError, match="unsupported rollout kind 'Pod'"):
        selection_from(config, targets=("Pod/shop/web",))
    with pytest.raises(UsageError, match="not both"):
        selection_from(config, kind="Deployment", name="web", targets=("Deployment/shop/web",))


def test_single_target_config_and_kind_name_flags_keep_working() -> None:
    config = Config(rollout=RolloutConfig(kind="Rollout", name="web", namespace="shop"))
    assert selection_from(config).targets == (Target("Rollout", "web", "shop"),)
    assert selection_from(config, kind="Deployment", name="api").targets == (Target("Deployment", "api", "shop"),)
    assert selection_from(config, namespace="other").targets == (Target("Rollout", "web", "other"),)


def test_targets_list_in_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.expandcontract.rollout]\nnamespace = 'shop'\n"
        "targets = [{kind = 'Deployment', name = 'web'}, {kind = 'CronJob', name = 'nightly', namespace = 'batch'}]\n"
    )
    config = load_config(tmp_path / "pyproject.toml")
    assert config.rollout.targets == (TargetConfig("Deployment", "web"), TargetConfig("CronJob", "nightly", "batch"))
    assert config.has_rollout_target
    assert selection_from(config).targets == (
        Target("Deployment", "web", "shop"),
        Target("CronJob", "nightly", "batch"),
    )
    (tmp_path / "pyproject.toml").write_text("[tool.expandcontract.rollout]\ntargets = [{kind = 'Deployment'}]\n")
    with pytest.raises(ConfigError, match="missing key 'name'"):
        load_config(tmp_path / "pyproject.toml")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.expandcontract.rollout]\ntargets = [{kind = 'Deployment', name = 'w', x = 1}]\n"
    )
    with pytest.raises(ConfigError, match="unknown key 'x'"):
        load_config(tmp_path / "pyproject.toml")


def test_selector_config_is_checked() -> None:
    good = Config(rollout=RolloutConfig(selector="app.kubernetes.io/part-of=shop", namespace="shop"))
    assert selection_from(good) == Selection(selector="app.kubernetes.io/part-of=shop", namespace="shop")
    with pytest.raises(ConfigError, match="selector"):
        selection_from(Config(rollout=RolloutConfig(selector="a in (", namespace="shop")))
    with pytest.raises(ConfigError, match="not both"):
        selection_from(Config(rollout=RolloutConfig(selector="a=b", kind="Deployment", name="web")))
    with pytest.raises(UsageError, match="unsupported rollout kind"):
        selection_from(Config(rollout=RolloutConfig(selector="a=b", kinds=("Pod",))))


def test_every_registered_kind_has_api_coordinates() -> None:
    for kind, strategy in STRATEGIES.items():
        assert KINDS[kind] is strategy.api
        assert all(k.name in KINDS for k in strategy.reads)


# -- several targets ------------------------------------------------------------------------------


def test_an_old_worker_beside_a_final_web_blocks_the_contract() -> None:
    """The state issue 14 found allowed: the gated web Deployment FINAL, a worker Deployment still OLD."""
    web = load("deployment-complete.yaml", shift=True)  # FINAL
    worker = copy.deepcopy(load("deployment-complete.yaml"))
    for obj in worker:
        obj["metadata"]["name"] = obj["metadata"]["name"].replace("web", "worker")
        obj["metadata"]["uid"] = "w-" + obj["metadata"]["uid"]
        for owner in obj["metadata"].get("ownerReferences", []):
            owner["uid"], owner["name"] = "w-" + owner["uid"], owner["name"].replace("web", "worker")
        for holder in (obj["metadata"], obj.get("spec", {}).get("template", {}).get("metadata", {})):
            if "labels" in holder:
                holder["labels"]["app.kubernetes.io/name"] = "worker"
        if "selector" in obj.get("spec", {}):
            obj["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "worker"
        for holder in (obj["metadata"], obj.get("spec", {}).get("template", {}).get("metadata", {})):
            if "annotations" in holder and "expandcontract.io/schema" in holder["annotations"]:
                holder["annotations"]["expandcontract.io/schema"] = OLD
    web_t, worker_t = Target("Deployment", "web", SHOP), Target("Deployment", "worker", SHOP)
    assert both(web, "contract", web_t).decision == "allow"
    decision = both(web + worker, "contract", web_t, worker_t)
    assert decision.decision == "blocked"
    assert [p.decision for p in decision.parts] == ["allow", "blocked"]
    doc = json.loads(decision.to_json())
    assert [(t["target"]["name"], t["decision"]) for t in doc["targets"]] == [("web", "allow"), ("worker", "blocked")]
    assert doc["strategy"] == "rolling" and doc["target"] is None
    assert {r["target"]["name"] for r in doc["reasons"]} == {"worker"}
    assert "1 of 2 targets blocked" in decision.summary() and "Deployment shop/worker" in decision.summary()


def test_deny_anywhere_outranks_blocked_and_a_missing_target_elsewhere() -> None:
    objs = load("deployment-mid.yaml")
    find(objs, "Deployment")["status"]["conditions"][1]["reason"] = "ProgressDeadlineExceeded"
    decision = both(objs, "migrate", Target("Deployment", "web", SHOP), Target("Deployment", "gone", SHOP))
    assert decision.decision == "deny"
    assert [p.decision for p in decision.parts] == ["deny", "unknown"]


def test_selector_finds_stamped_workloads_and_skips_what_another_target_judges() -> None:
    objs = workloads() + load("flagger-succeeded.yaml")
    for obj in find_all(objs, "Canary") + find_all(objs, "Deployment"):
        obj["metadata"].setdefault("labels", {})["app.kubernetes.io/part-of"] = "shop"
    targets, reasons = resolve(_Objects(objs), Selection(selector="app.kubernetes.io/part-of=shop", namespace=SHOP))
    assert reasons == ()
    assert sorted(str(t) for t in targets) == [
        "Canary shop/web",  # its Deployments web and web-primary are judged through it
        "CronJob shop/nightly-report",
        "DaemonSet shop/node-agent",
        "Job shop/reindex",  # the unstamped migration Job is not a target
        "StatefulSet shop/ledger",
    ]


def test_selector_that_matches_nothing_is_unknown() -> None:
    decision = evaluate_all(
        _Objects(workloads()),
        "migrate",
        "users-email",
        Selection(selector="team=nobody", namespace=SHOP),
        fake_classify,
    )
    assert decision.decision == "unknown"
    assert deciding(decision) == {"NO_TARGETS"}


# -- StatefulSet (kubectl rollout_status.go StatefulSetStatusViewer) -------------------------------


def test_statefulset_partitioned_rollout_keeps_old_pods() -> None:
    objs = workloads()
    decision = decide_on(objs, "migrate", "StatefulSet", "ledger")
    assert decision.decision == "blocked"
    assert codes(decision) == {"ROLLOUT_IN_PROGRESS"}
    assert {o for r in decision.reasons for o in r.objects} >= {"Pod shop/ledger-0", "Pod shop/ledger-1"}


def test_statefulset_complete_allows_and_unseen_pods_are_unknown() -> None:
    objs = workloads()
    sts = find(objs, "StatefulSet", "ledger")
    sts["status"].update(currentRevision="ledger-7f6b9d5c48", currentReplicas=3, updatedReplicas=3)
    for pod in find_all(objs, "Pod", "ledger-"):
        pod["metadata"]["labels"]["controller-revision-hash"] = "ledger-7f6b9d5c48"
        pod["metadata"]["annotations"]["expandcontract.io/schema"] = NEW
    assert decide_on(objs, "migrate", "StatefulSet", "ledger").decision == "allow"
    objs.remove(find(objs, "Pod", "ledger-1"))
    decision = decide_on(objs, "migrate", "StatefulSet", "ledger")
    assert decision.decision == "unknown"
    assert deciding(decision) == {"PODS_UNSEEN"}


def test_statefulset_not_observed_is_untrusted() -> None:
    objs = workloads()
    find(objs, "StatefulSet", "ledger")["metadata"]["generation"] = 6
    assert deciding(decide_on(objs, "migrate", "StatefulSet", "ledger")) == {"STATUS_NOT_OBSERVED"}
    find(objs, "StatefulSet", "ledger")["metadata"]["generation"] = 4  # behind observedGeneration: observed
    assert "STATUS_NOT_OBSERVED" not in codes(decide_on(objs, "migrate", "StatefulSet", "ledger"))


# -- DaemonSet -------------------------------------------------------------------------------------


def test_daemonset_pod_of_the_previous_generation_blocks_migrate() -> None:
    objs = workloads()
    decision = decide_on(objs, "migrate", "DaemonSet", "node-agent")
    assert decision.decision == "blocked"
    assert "Pod shop/node-agent-bx7q2" in {o for r in decision.reasons for o in r.objects}
    old = find(objs, "Pod", "node-agent-bx7q2")
    old["metadata"]["labels"]["pod-template-generation"] = "4"
    old["metadata"]["annotations"]["expandcontract.io/schema"] = NEW
    find(objs, "DaemonSet")["status"]["updatedNumberScheduled"] = 2
    assert decide_on(objs, "migrate", "DaemonSet", "node-agent").decision == "allow"
    assert decide_on(objs, "contract", "DaemonSet", "node-agent").decision == "blocked"  # NEW, not FINAL
    objs.remove(old)
    assert deciding(decide_on(objs, "migrate", "DaemonSet", "node-agent")) == {"PODS_UNSEEN"}


# -- Jobs and CronJobs -----------------------------------------------------------------------------


def test_running_job_with_an_old_image_blocks_migrate_until_it_finishes() -> None:
    objs = workloads()
    decision = decide_on(objs, "migrate", "Job", "reindex")
    assert codes(decision) == {"OLD_WRITERS"}
    job = find(objs, "Job", "reindex")
    job["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
    find(objs, "Pod", "reindex-k2x9p")["status"]["phase"] = "Succeeded"
    assert decide_on(objs, "migrate", "Job", "reindex").decision == "allow"


def test_job_reporting_pods_the_snapshot_lacks_is_unknown() -> None:
    objs = [o for o in workloads() if o["metadata"]["name"] != "reindex-k2x9p"]
    assert deciding(decide_on(objs, "migrate", "Job", "reindex")) == {"PODS_UNSEEN"}


def test_cronjob_template_counts_and_finished_runs_do_not() -> None:
    objs = workloads()
    assert decide_on(objs, "migrate", "CronJob", "nightly-report").decision == "allow"
    contract = decide_on(objs, "contract", "CronJob", "nightly-report")
    assert codes(contract) == {"INCOMPATIBLE_PODS"}
    assert contract.reasons[0].objects == ("CronJob shop/nightly-report (template)",)
    cron = find(objs, "CronJob")
    cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["annotations"]["expandcontract.io/schema"] = FINAL
    assert decide_on(objs, "contract", "CronJob", "nightly-report").decision == "allow"
    # a run still going with the NEW template keeps the contract waiting
    run = find(objs, "Job", "nightly-report-29400000")
    run["status"] = {"active": 1, "startTime": "2026-11-26T02:00:00Z"}
    assert decide_on(objs, "contract", "CronJob", "nightly-report").decision == "unknown"  # its pod is not here
    pod = copy.deepcopy(find(objs, "Pod", "reindex-k2x9p"))
    pod["metadata"].update(name="nightly-report-29400000-abcde", uid="nr-pod")
    pod["metadata"]["labels"] = dict(run["spec"]["selector"]["matchLabels"])
    pod["metadata"]["ownerReferences"][0].update(name=run["metadata"]["name"], uid=run["metadata"]["uid"])
    pod["metadata"]["annotations"]["expandcontract.io/schema"] = NEW
    objs.append(pod)
    decision = decide_on(objs, "contract", "CronJob", "nightly-report")
    assert decision.decision == "blocked"
    assert "Pod shop/nightly-report-29400000-abcde" in decision.reasons[0].objects
