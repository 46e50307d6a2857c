"""Gate speed on a namespace of 2,000 pods served by kmock over loopback HTTP.

1. Time to a decision through the live source (official client, raw JSON reads), next to the same
   pod LIST decoded into the client's typed models, as a ratio.
2. With --wait: the delay between the rollout finishing (the objects updated in the API) and the gate
   answering allow.

Run: `python benchmarks/gate.py [--pods 2000] [--runs 7]`. Goals (issue 6): decision < 1 s, wait delay < 1 s.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from expandcontract.gates.evaluate import evaluate
from expandcontract.gates.model import Target
from expandcontract.gates.wait import wait_for
from tests.gates.conftest import FINAL, NEW, fake_classify, find, find_all, load
from tests.gates.kmock_thread import KmockThread, resource_of

TARGET = Target("Deployment", "web", "shop")


def namespace(pods: int, *, finished: bool) -> list[dict[str, Any]]:
    """A Deployment with `pods` replicas: mid rollout NEW -> FINAL (half each), or finished."""
    base = load("deployment-mid.yaml", shift=True)  # old RS = NEW, new RS = FINAL
    dep = find(base, "Deployment")
    old_rs, new_rs = find(base, "ReplicaSet", "web-5d8c7f9b4"), find(base, "ReplicaSet", "web-7b9f6c8d5")
    template = find_all(base, "Pod", "web-7b9f6c8d5")[0]
    dep["spec"]["replicas"] = pods
    status = dep["status"]
    objs: list[dict[str, Any]] = [dep, old_rs, new_rs]
    n_old = 0 if finished else pods // 2
    for i in range(pods):
        pod = copy.deepcopy(template)
        rs = old_rs if i < n_old else new_rs
        pod["metadata"]["name"] = f"{rs['metadata']['name']}-{i:05d}"
        pod["metadata"]["uid"] = f"pod-{i:05d}"
        pod["metadata"]["ownerReferences"][0].update(name=rs["metadata"]["name"], uid=rs["metadata"]["uid"])
        pod["metadata"]["labels"]["pod-template-hash"] = rs["metadata"]["labels"]["pod-template-hash"]
        pod["metadata"]["annotations"]["expandcontract.io/schema"] = NEW if i < n_old else FINAL
        objs.append(pod)
    old_rs["spec"]["replicas"] = n_old
    old_rs["status"] = {"replicas": n_old, "readyReplicas": n_old, "availableReplicas": n_old} if n_old else {}
    new_rs["spec"]["replicas"] = pods - n_old
    new_rs["status"] = {"replicas": pods - n_old, "readyReplicas": pods - n_old, "availableReplicas": pods - n_old}
    status.update(replicas=pods, updatedReplicas=pods - n_old, readyReplicas=pods, availableReplicas=pods)
    status["conditions"][1]["reason"] = "NewReplicaSetAvailable" if finished else "ReplicaSetUpdated"
    return objs


def seed(km: KmockThread, objs: list[dict[str, Any]], *, replace: bool = False) -> None:
    def put() -> None:
        if replace:
            for key in [k for k in km.handler.objects if k[0] == resource_of("Pod")]:
                del km.handler.objects[key]
        for obj in objs:
            meta = obj["metadata"]
            km.handler.objects[resource_of(obj["kind"]), meta["namespace"], meta["name"]] = obj

    km.call(put)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    with KmockThread() as km:
        t0 = time.perf_counter()
        seed(km, namespace(args.pods, finished=False))
        print(f"seeded {args.pods} pods into kmock in {time.perf_counter() - t0:.2f} s", flush=True)
        src = km.client(timeout=(3.0, 30.0))

        def ask() -> Any:
            return evaluate(src, "contract", "users-email", TARGET, fake_classify)

        first = time.perf_counter()
        decision = ask()
        first = time.perf_counter() - first
        assert decision.decision == "blocked", decision.summary()
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            ask()
            times.append(time.perf_counter() - t)
        raw = statistics.median(times)

        from kubernetes import client

        core = client.CoreV1Api(src.api)
        typed_times = []
        for _ in range(max(3, args.runs // 2)):
            t = time.perf_counter()
            core.list_namespaced_pod("shop", label_selector="app.kubernetes.io/name=web", limit=500)
            typed_times.append(time.perf_counter() - t)
        raw_list = []
        for _ in range(max(3, args.runs // 2)):
            t = time.perf_counter()
            src.list("Pod", "shop", {"matchLabels": {"app.kubernetes.io/name": "web"}})
            raw_list.append(time.perf_counter() - t)
        typed, rawl = statistics.median(typed_times), statistics.median(raw_list)
        print(
            f"decision over {args.pods} pods (live source, raw JSON): first {first * 1000:.0f} ms, "
            f"median {raw * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {args.runs} runs (goal < 1000 ms)"
        )
        print(
            f"pod LIST alone: raw JSON {rawl * 1000:.0f} ms vs typed models {typed * 1000:.0f} ms "
            f"({typed / rawl:.1f}x slower typed)"
        )

        delays = []
        finished = namespace(args.pods, finished=True)
        unfinished = namespace(args.pods, finished=False)
        for i in range(5):
            seed(km, unfinished, replace=True)
            result: dict[str, Any] = {}

            def waiter(out: dict[str, Any]) -> None:
                out["decision"] = wait_for(ask, 60, interval=0.25)
                out["at"] = time.perf_counter()

            thread = threading.Thread(target=waiter, args=(result,))
            thread.start()
            time.sleep(0.8 + 0.13 * i)  # let it poll a few times, at varying phases of the poll cycle
            seed(km, finished, replace=True)
            done_at = time.perf_counter()
            thread.join(60)
            assert result["decision"].decision == "allow", result["decision"].summary()
            delays.append(result["at"] - done_at)
        print(
            f"--wait: rollout finished -> allow after median {statistics.median(delays) * 1000:.0f} ms, "
            f"max {max(delays) * 1000:.0f} ms over {len(delays)} runs (poll 250 ms; goal < 1000 ms)"
        )
        print(f"requests made by the live source: {src.requests}")


if __name__ == "__main__":
    main()
