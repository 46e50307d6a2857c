"""The live source over real HTTP: the official client against kmock on loopback.

Covers what a real API server does to a gate: lists without `kind`s, pagination, 401/403, 404 of the
workload and of the CRD, 410 on an expired continue token, 429/5xx then success, a slow server and one
that is down. Every failure must come back as an unknown decision, never as allowed.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kmock
import pytest
from click.testing import CliRunner

from expandcontract.config import RolloutConfig
from expandcontract.gates.base import SourceError
from expandcontract.gates.evaluate import evaluate
from expandcontract.gates.model import Target
from expandcontract.gates.sources import LiveSource

from .conftest import fake_classify, find, load
from .kmock_thread import KmockThread, resource_of


@pytest.fixture
def km() -> Iterator[KmockThread]:
    with KmockThread() as server:
        yield server


def seed(km: KmockThread, objs: list[dict[str, Any]]) -> None:
    stripped = []
    for obj in copy.deepcopy(objs):
        kind = obj["kind"]
        if kind in ("Pod", "ReplicaSet"):
            del obj["kind"]  # as a real API server lists them
        stripped.append((kind, obj))

    def put() -> None:
        for kind, obj in stripped:
            meta = obj["metadata"]
            km.handler.objects[resource_of(kind), meta["namespace"], meta["name"]] = obj

    km.call(put)


def react(km: KmockThread, criteria: Any, payload: Any) -> None:
    km.call(lambda: km.handler[criteria] << payload)


def first(n: int) -> Any:
    """A filter true for the first n requests it sees (kmock may evaluate a filter more than once)."""
    verdicts: dict[int, bool] = {}

    def check(req: Any) -> bool:
        if id(req) not in verdicts:
            verdicts[id(req)] = len(verdicts) < n
        return verdicts[id(req)]

    return check


def after_first() -> Any:
    once = first(1)
    return lambda req: not once(req)


def decide(src: LiveSource, phase: str, kind: str, name: str = "web") -> Any:
    return evaluate(src, phase, "users-email", Target(kind, name, "shop"), fake_classify)


@pytest.mark.parametrize(
    ("fixture", "kind", "phase", "expected", "code"),
    [
        ("deployment-mid.yaml", "Deployment", "migrate", "blocked", "ROLLOUT_IN_PROGRESS"),
        ("deployment-complete.yaml", "Deployment", "migrate", "allow", None),
        ("bluegreen-warm.yaml", "Service", "migrate", "blocked", "HOT_ROLLBACK_TARGET"),
        ("argo-canary-scaledown.yaml", "Rollout", "migrate", "blocked", "HOT_ROLLBACK_TARGET"),
        ("flagger-succeeded.yaml", "Canary", "migrate", "allow", None),
    ],
)
def test_live_decisions_match_the_snapshot_ones(
    km: KmockThread, fixture: str, kind: str, phase: str, expected: str, code: str | None
) -> None:
    seed(km, load(fixture))
    decision = decide(km.client(), phase, kind)
    assert decision.decision == expected, decision.summary()
    if code:
        assert code in {r.code for r in decision.reasons}


def test_lists_are_paginated(km: KmockThread) -> None:
    objs = load("deployment-complete.yaml")
    pods = [o for o in objs if o["kind"] == "Pod"]
    seed(km, [o for o in objs if o["kind"] != "Pod"])
    page1 = {"kind": "PodList", "metadata": {"continue": "tok1"}, "items": pods[:2]}
    page2 = {"kind": "PodList", "metadata": {}, "items": pods[2:]}
    react(km, ("list", resource_of("Pod"), kmock.params({"continue": "tok1"})), page2)
    react(km, ("list", resource_of("Pod")), page1)
    src = km.client(page_size=2)
    assert len(src.list("Pod", "shop")) == 3
    assert decide(src, "migrate", "Deployment").decision == "allow"
    limits = [r.params.get("limit") for r in km.handler["list", resource_of("Pod")]]
    assert set(limits) == {"2"}


def test_expired_continue_token_twice_is_unknown(km: KmockThread) -> None:
    objs = load("deployment-complete.yaml")
    seed(km, [o for o in objs if o["kind"] != "Pod"])
    page1 = {"kind": "PodList", "metadata": {"continue": "tok1"}, "items": []}
    react(km, ("list", resource_of("Pod"), kmock.params({"continue": "tok1"})), 410)
    react(km, ("list", resource_of("Pod")), page1)
    decision = decide(km.client(), "migrate", "Deployment")
    assert decision.decision == "unknown"
    assert decision.reasons[0].code == "INCOMPLETE_LIST"


@pytest.mark.parametrize("status", [401, 403])
def test_forbidden_is_unknown(km: KmockThread, status: int) -> None:
    seed(km, load("deployment-complete.yaml"))
    react(km, ("list", resource_of("Pod")), status)
    decision = decide(km.client(), "contract", "Deployment")
    assert decision.decision == "unknown"
    assert decision.exit_code == 4
    assert decision.reasons[0].code == "FORBIDDEN"
    assert "deploy/rbac.yaml" in decision.reasons[0].message


def test_missing_workload_is_unknown(km: KmockThread) -> None:
    seed(km, load("deployment-complete.yaml"))
    decision = decide(km.client(), "migrate", "Deployment", name="api")
    assert decision.decision == "unknown"
    assert decision.reasons[0].code == "NOT_FOUND"


def test_missing_crd_is_unknown(km: KmockThread) -> None:
    seed(km, load("deployment-complete.yaml"))  # no Rollout resource at all
    src = km.client()
    with pytest.raises(SourceError) as err:
        src.list("Rollout", "shop")
    assert err.value.code == "NOT_FOUND"
    decision = decide(src, "migrate", "Rollout")
    assert decision.decision == "unknown"
    assert "CRD" in decision.reasons[0].message


def test_server_errors_are_retried_then_succeed(km: KmockThread) -> None:
    seed(km, load("deployment-complete.yaml"))
    react(km, ("list", resource_of("Pod"), first(2)), 503)
    react(km, ("get", resource_of("Deployment"), first(1)), 429)
    src = km.client(backoff=0.01)
    decision = decide(src, "migrate", "Deployment")
    assert decision.decision == "allow", decision.summary()
    assert len(km.handler["list", resource_of("Pod")]) == 3


def test_server_errors_that_persist_are_unknown(km: KmockThread) -> None:
    seed(km, load("deployment-complete.yaml"))
    react(km, ("list", resource_of("ReplicaSet")), 500)
    slept: list[float] = []
    src = km.client(retries=3, sleep=slept.append)
    decision = decide(src, "migrate", "Deployment")
    assert decision.decision == "unknown"
    assert decision.reasons[0].code == "SERVER_ERROR"
    assert len(slept) == 3
    assert len(km.handler["list", resource_of("ReplicaSet")]) == 4


def test_slow_server_times_out_as_unknown(km: KmockThread) -> None:
    import asyncio

    seed(km, load("deployment-complete.yaml"))
    react(km, ("list", resource_of("Pod")), (lambda: asyncio.sleep(3), {"items": []}))
    started = time.monotonic()
    decision = decide(km.client(timeout=(1.0, 0.3)), "migrate", "Deployment")
    assert time.monotonic() - started < 2
    assert decision.decision == "unknown"
    assert decision.reasons[0].code == "TIMEOUT"


def test_stopped_server_is_unknown(km: KmockThread) -> None:
    seed(km, load("deployment-complete.yaml"))
    src = km.client()
    assert decide(src, "migrate", "Deployment").decision == "allow"
    km.stop()
    decision = decide(src, "migrate", "Deployment")
    assert decision.decision == "unknown"
    assert decision.reasons[0].code == "UNREACHABLE"
    assert "127.0.0.1" in decision.reasons[0].message


def test_generation_changing_between_reads_is_unknown(km: KmockThread) -> None:
    objs = load("deployment-complete.yaml")
    seed(km, objs)
    bumped = copy.deepcopy(find(objs, "Deployment"))
    bumped["metadata"]["generation"] = 8
    bumped["status"]["observedGeneration"] = 8
    react(km, ("get", resource_of("Deployment"), after_first()), bumped)
    decision = decide(km.client(), "migrate", "Deployment")
    assert decision.decision == "unknown"
    assert "GENERATION_CHANGED" in {r.code for r in decision.reasons}


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "kmock",
                "clusters": [{"name": "kmock", "cluster": {"server": server}}],
                "users": [{"name": "gate", "user": {"token": "not-a-secret"}}],
                "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "gate", "namespace": "shop"}}],
            }
        )
    )
    return path


def test_kubeconfig_and_the_cli_against_the_live_source(km: KmockThread, project_root: Path) -> None:
    from expandcontract.cli import cli

    seed(km, load("deployment-mid.yaml"))
    kc = kubeconfig(project_root / "kubeconfig", km.url)
    src = LiveSource.from_config(RolloutConfig(kubeconfig=str(kc), context="kmock"))
    assert src.get("Deployment", "shop", "web")["kind"] == "Deployment"
    assert km.handler["get"][-1].headers.get("Authorization") == "Bearer not-a-secret"
    cfg = project_root / "pyproject.toml"
    cfg.write_text(
        f'[tool.expandcontract.rollout]\nkind = "Deployment"\nname = "web"\nnamespace = "shop"\nkubeconfig = "{kc}"\n'
    )
    result = CliRunner().invoke(
        cli, ["gate", "migrate", "--change", "users-email", "--config", str(cfg), "--format", "json"]
    )
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["reasons"][0]["code"] in ("ROLLOUT_IN_PROGRESS", "OLD_WRITERS")


def test_unusable_kubeconfig_is_unknown(project_root: Path) -> None:
    from expandcontract.config import Config
    from expandcontract.gates.evaluate import reader_for

    config = Config(root=project_root, rollout=RolloutConfig(kubeconfig=str(project_root / "missing")))
    decision = evaluate(
        reader_for(config, None), "migrate", "users-email", Target("Deployment", "web", "shop"), fake_classify
    )
    assert decision.decision == "unknown"
    assert decision.reasons[0].code == "NO_CLUSTER_CONFIG"


def test_every_kind_reads_live_and_a_selector_finds_them(km: KmockThread) -> None:
    """StatefulSets, DaemonSets, Jobs and CronJobs through the typed APIs (apps/v1, batch/v1), and a
    label selector over workloads resolved against the live API (a missing CRD kind has none)."""
    from expandcontract.gates.evaluate import Selection, evaluate_all, resolve

    objs = load("workloads.yaml")
    seed(km, objs)
    src = km.client()
    for kind, name, expected in (
        ("StatefulSet", "ledger", "blocked"),
        ("DaemonSet", "node-agent", "blocked"),
        ("Job", "reindex", "blocked"),
        ("CronJob", "nightly-report", "allow"),
    ):
        decision = evaluate(src, "migrate", "users-email", Target(kind, name, "shop"), fake_classify)
        assert decision.decision == expected, (kind, decision.summary())
    selection = Selection(selector="app.kubernetes.io/part-of=shop", namespace="shop")
    targets, reasons = resolve(src, selection)
    assert reasons == ()
    assert {str(t) for t in targets} == {
        "StatefulSet shop/ledger",
        "DaemonSet shop/node-agent",
        "Job shop/reindex",
        "CronJob shop/nightly-report",
    }
    assert evaluate_all(src, "migrate", "users-email", selection, fake_classify).decision == "blocked"
