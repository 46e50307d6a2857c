"""Flagger canaries: progressing, promoting, succeeded, failed, mirroring, unknown phases."""

from __future__ import annotations

import pytest

from .conftest import codes, decide_on, deciding, find, find_all, load


def test_progressing_blocks_migrate_and_contract() -> None:
    migrate = decide_on(load("flagger-progressing.yaml"), "migrate", "Canary")
    assert migrate.decision == "blocked"
    assert "OLD_WRITERS" in codes(migrate)  # the primary runs OLD code
    assert migrate.observed["weights"] == {"canary": 20}
    contract = decide_on(load("flagger-progressing.yaml", shift=True), "contract", "Canary")
    assert deciding(contract) == {"INCOMPATIBLE_PODS"}
    assert all("web-primary" in o for r in contract.reasons for o in r.objects)  # the canary is FINAL
    unshifted = decide_on(load("flagger-progressing.yaml"), "contract", "Canary")
    assert any(r.message.startswith("canary") for r in unshifted.reasons)


def test_succeeded_allows_migrate_and_final_allows_contract() -> None:
    assert decide_on(load("flagger-succeeded.yaml"), "migrate", "Canary").decision == "allow"
    assert decide_on(load("flagger-succeeded.yaml", shift=True), "contract", "Canary").decision == "allow"
    blocked = decide_on(load("flagger-succeeded.yaml"), "contract", "Canary")
    assert blocked.decision == "blocked"


def test_pending_revision_is_not_done() -> None:
    objs = load("flagger-succeeded.yaml")
    find(objs, "Canary")["status"]["lastAppliedSpec"] = "8a7b6c5d4"
    decision = decide_on(objs, "migrate", "Canary")
    assert deciding(decision) == {"ROLLOUT_IN_PROGRESS"}
    assert "lastPromotedSpec" in decision.reasons[0].message


@pytest.mark.parametrize("phase", ["Promoting", "Finalising", "WaitingPromotion"])
def test_both_versions_run_while_promoting(phase: str) -> None:
    objs = load("flagger-progressing.yaml", shift=True)
    find(objs, "Canary")["status"]["phase"] = phase
    decision = decide_on(objs, "contract", "Canary")
    assert decision.decision == "blocked"
    assert "INCOMPATIBLE_PODS" in codes(decision)


def test_failed_denies_migrate_and_contract() -> None:
    objs = load("flagger-progressing.yaml")
    find(objs, "Canary")["status"]["phase"] = "Failed"
    for phase in ("migrate", "contract"):
        decision = decide_on(objs, phase, "Canary")
        assert decision.decision == "deny"
        assert "CANARY_FAILED" in deciding(decision)


def test_mirror_while_progressing_blocks() -> None:
    objs = load("flagger-progressing.yaml", shift=True)
    canary = find(objs, "Canary")
    canary["spec"]["analysis"]["mirror"] = True
    decision = decide_on(objs, "migrate", "Canary")
    assert "MIRROR_ACTIVE" in codes(decision)
    canary["status"]["phase"] = "Succeeded"
    assert "MIRROR_ACTIVE" not in codes(decide_on(objs, "migrate", "Canary"))


def test_unknown_phase_and_missing_primary_are_unknown() -> None:
    objs = load("flagger-succeeded.yaml")
    find(objs, "Canary")["status"]["phase"] = "Paused"
    assert deciding(decide_on(objs, "migrate", "Canary")) == {"UNKNOWN_VALUE"}
    objs = [o for o in load("flagger-succeeded.yaml") if o["metadata"]["name"] != "web-primary"]
    decision = decide_on(objs, "migrate", "Canary")
    assert decision.decision == "unknown"
    assert "Deployment shop/web-primary" in decision.reasons[-1].message


def test_stale_primary_status_is_unknown() -> None:
    objs = load("flagger-succeeded.yaml")
    find(objs, "Deployment", "web-primary")["metadata"]["generation"] = 9
    assert decide_on(objs, "migrate", "Canary").decision == "unknown"


def test_terminating_primary_pods_block_contract() -> None:
    objs = load("flagger-succeeded.yaml", shift=True)
    old = dict(find_all(objs, "Pod", "web-primary")[0])
    old = {
        **old,
        "metadata": {
            **old["metadata"],
            "name": "web-primary-5b8c4d9f6-zzzzz",
            "deletionTimestamp": "2026-11-25T09:15:02Z",
            "annotations": {"expandcontract.io/schema": "expand=1b2c3d4e5f60,migrate=2c3d4e5f6071,contract=-"},
            "ownerReferences": [
                {
                    **old["metadata"]["ownerReferences"][0],
                    "uid": find(objs, "ReplicaSet", "web-primary-5b8c4d9f6")["metadata"]["uid"],
                    "name": "web-primary-5b8c4d9f6",
                }
            ],
        },
    }
    decision = decide_on([*objs, old], "contract", "Canary")
    assert codes(decision) == {"TERMINATING_PODS"}


def test_unstamped_canary_template_is_unknown() -> None:
    objs = load("flagger-succeeded.yaml")
    del find(objs, "Deployment", "web")["spec"]["template"]["metadata"]["annotations"]
    assert decide_on(objs, "migrate", "Canary").decision == "unknown"


def test_initialized_is_the_steady_state_until_a_new_revision() -> None:
    """Flagger's canary controller: Initialized after the first promotion; a spec change moves it on."""
    objs = load("flagger-succeeded.yaml")
    canary = find(objs, "Canary")
    canary["status"]["phase"] = "Initialized"
    assert decide_on(objs, "migrate", "Canary").decision == "allow"
    canary["status"]["lastAppliedSpec"] = "5c8f7d9b6a"  # a new revision Flagger has not promoted
    assert deciding(decide_on(objs, "migrate", "Canary")) == {"ROLLOUT_IN_PROGRESS"}


@pytest.mark.parametrize("phase", ["Initializing", "Waiting", "Terminating", "Terminated"])
def test_other_known_phases_are_not_done(phase: str) -> None:
    objs = load("flagger-succeeded.yaml")
    find(objs, "Canary")["status"]["phase"] = phase
    decision = decide_on(objs, "migrate", "Canary")
    assert decision.decision == "blocked"
    assert deciding(decision) == {"ROLLOUT_IN_PROGRESS"}
