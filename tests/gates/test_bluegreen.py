"""Blue/green by Service selector: active colour, idle colour warm and cold, endpoints."""

from __future__ import annotations

from typing import Any

from .conftest import FINAL, NEW, OLD, codes, decide_on, deciding, find, find_all, load


def cold(objs: list[dict[str, Any]], colour: str = "web-green") -> list[dict[str, Any]]:
    """Scale the idle colour to 0 and let its pods go."""
    find(objs, "Deployment", colour)["spec"]["replicas"] = 0
    for rs in find_all(objs, "ReplicaSet", colour):
        rs["spec"]["replicas"] = 0
        rs["status"] = {"observedGeneration": 3}
    return [o for o in objs if not (o["kind"] == "Pod" and o["metadata"]["name"].startswith(colour))]


def test_warm_old_idle_colour_blocks_migrate_as_hot_rollback_target() -> None:
    decision = decide_on(load("bluegreen-warm.yaml"), "migrate", "Service")
    assert decision.decision == "blocked"
    assert codes(decision) == {"HOT_ROLLBACK_TARGET"}
    assert "Deployment shop/web-green (template)" in decision.reasons[0].objects
    assert "scale the idle colour to 0" in decision.reasons[0].message
    assert decision.observed["active"] == ["web-blue"] and decision.observed["idle"] == ["web-green"]
    assert decision.observed["colourKey"] == "version"


def test_cold_idle_colour_allows_migrate() -> None:
    decision = decide_on(cold(load("bluegreen-warm.yaml")), "migrate", "Service")
    assert decision.decision == "allow", decision.summary()


def test_warm_idle_colour_blocks_contract_even_when_it_is_final() -> None:
    objs = load("bluegreen-warm.yaml", shift=True)
    text_green = find(objs, "Deployment", "web-green")
    text_green["spec"]["template"]["metadata"]["annotations"]["expandcontract.io/schema"] = FINAL
    for pod in find_all(objs, "Pod", "web-green") + find_all(objs, "ReplicaSet", "web-green"):
        ann = pod["metadata"].get("annotations", {})
        if "expandcontract.io/schema" in ann:
            ann["expandcontract.io/schema"] = FINAL
        if pod["kind"] == "ReplicaSet":
            pod["spec"]["template"]["metadata"]["annotations"]["expandcontract.io/schema"] = FINAL
    decision = decide_on(objs, "contract", "Service")
    assert decision.decision == "blocked"
    assert codes(decision) == {"HOT_ROLLBACK_TARGET"}
    assert "instant rollback" in decision.reasons[0].message


def test_cold_idle_colour_and_final_active_allow_contract() -> None:
    decision = decide_on(cold(load("bluegreen-warm.yaml", shift=True)), "contract", "Service")
    assert decision.decision == "allow", decision.summary()


def test_undo_expand_blocked_by_new_active_colour_and_by_warm_new_idle_colour() -> None:
    assert deciding(decide_on(load("bluegreen-warm.yaml"), "undo-expand", "Service")) == {"NEW_PODS_DEPEND_ON_EXPAND"}
    # flip: green (OLD) becomes active, blue (NEW) idle but warm
    objs = load("bluegreen-warm.yaml")
    find(objs, "Service")["spec"]["selector"]["version"] = "green"
    for sl in find_all(objs, "EndpointSlice"):
        sl["endpoints"] = []
    decision = decide_on(objs, "undo-expand", "Service")
    assert decision.decision == "blocked"
    assert any("web-blue" in o for o in decision.reasons[0].objects)
    assert decide_on(cold(objs, "web-blue"), "undo-expand", "Service").decision == "allow"


def test_service_without_selector_is_unknown() -> None:
    objs = load("bluegreen-warm.yaml")
    del find(objs, "Service")["spec"]["selector"]
    decision = decide_on(objs, "migrate", "Service")
    assert decision.decision == "unknown"
    assert codes(decision) == {"NO_SELECTOR"}


def test_endpoint_without_pod_target_ref_is_unknown() -> None:
    objs = cold(load("bluegreen-warm.yaml"))
    find(objs, "EndpointSlice")["endpoints"].append(
        {"addresses": ["10.9.9.9"], "conditions": {"ready": True, "serving": True, "terminating": False}}
    )
    decision = decide_on(objs, "migrate", "Service")
    assert decision.decision == "unknown"
    assert codes(decision) == {"ENDPOINT_WITHOUT_POD"}


def test_pod_getting_traffic_outside_the_colours_counts() -> None:
    objs = cold(load("bluegreen-warm.yaml"))
    stray = dict(find_all(objs, "Pod", "web-blue")[0])
    stray = {
        **stray,
        "metadata": {
            **stray["metadata"],
            "name": "debug-web",
            "ownerReferences": [],
            "annotations": {"expandcontract.io/schema": OLD},
        },
    }
    find(objs, "EndpointSlice")["endpoints"].append(
        {
            "addresses": ["10.244.0.99"],
            "conditions": {"ready": True},
            "targetRef": {"kind": "Pod", "name": "debug-web", "namespace": "shop"},
        }
    )
    decision = decide_on([*objs, stray], "migrate", "Service")
    assert decision.decision == "blocked"
    assert "Pod shop/debug-web" in decision.reasons[0].objects


def test_colours_named_in_config_and_unresolvable_colours() -> None:
    objs = load("bluegreen-warm.yaml")
    named = decide_on(objs, "migrate", "Service", options={"colours": ("web-blue",)})
    assert named.decision == "allow"  # only web-blue is a colour: green is not considered
    for dep in find_all(objs, "Deployment"):
        dep["spec"]["template"]["metadata"]["labels"]["version"] = "x"
    decision = decide_on(objs, "migrate", "Service")
    assert decision.decision == "unknown"
    assert "COLOURS_UNKNOWN" in codes(decision)


def test_active_colour_mid_rollout_blocks_migrate() -> None:
    objs = cold(load("bluegreen-warm.yaml"))
    blue = find(objs, "Deployment", "web-blue")
    blue["status"]["updatedReplicas"] = 1
    decision = decide_on(objs, "migrate", "Service")
    assert deciding(decision) == {"ROLLOUT_IN_PROGRESS"}
    blue["metadata"]["generation"] = 12
    assert decide_on(objs, "migrate", "Service").decision == "unknown"
    assert NEW


def test_terminating_pods_of_the_active_colour_block_contract() -> None:
    import copy

    objs = cold(load("bluegreen-warm.yaml", shift=True))
    old = copy.deepcopy(find_all(objs, "Pod", "web-blue")[0])
    old["metadata"]["name"] = "web-blue-59c8d7f6b-x2x9z"
    old["metadata"]["deletionTimestamp"] = "2026-11-25T09:15:02Z"
    old["metadata"]["annotations"]["expandcontract.io/schema"] = NEW
    old["metadata"]["labels"]["pod-template-hash"] = "59c8d7f6b"
    old["metadata"]["ownerReferences"][0].update(name="web-blue-59c8d7f6b", uid="deleted-rs")
    decision = decide_on([*objs, old], "contract", "Service")
    assert codes(decision) == {"TERMINATING_PODS"}


def test_unstamped_pod_and_unknown_reason_in_a_colour_are_unknown() -> None:
    objs = cold(load("bluegreen-warm.yaml"))
    find_all(objs, "Pod", "web-blue")[0]["metadata"].pop("annotations")
    assert deciding(decide_on(objs, "migrate", "Service")) == {"UNSTAMPED_POD"}
    objs = cold(load("bluegreen-warm.yaml"))
    find(objs, "Deployment", "web-blue")["status"]["conditions"][1]["reason"] = "Mystery"
    assert deciding(decide_on(objs, "migrate", "Service")) == {"UNKNOWN_VALUE"}
