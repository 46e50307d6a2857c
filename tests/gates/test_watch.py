"""`--wait` on a live source sleeps on a WATCH of what the decision read (kmock over real HTTP), and
polls where no watch is served."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from expandcontract.gates.evaluate import evaluate_all
from expandcontract.gates.model import Target
from expandcontract.gates.wait import wait_for
from expandcontract.gates.watch import Watcher

from .conftest import fake_classify, load
from .kmock_thread import KmockThread, resource_of
from .test_live_source import seed

TARGET = Target("Deployment", "web", "shop")


@pytest.fixture
def km() -> Iterator[KmockThread]:
    with KmockThread() as server:
        yield server


def test_wait_wakes_on_a_watch_event_not_on_the_poll_timer(km: KmockThread) -> None:
    start = load("deployment-mid.yaml")
    seed(km, start)
    src = km.client()
    asked = threading.Event()
    questions: list[str] = []

    def ask() -> Any:
        decision = evaluate_all(src, "migrate", "users-email", [TARGET], fake_classify)
        questions.append(decision.decision if decision.decision != "unknown" else decision.summary())
        asked.set()
        return decision

    result: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: result.update(
            d=wait_for(ask, 30, interval=600, min_gap=0.05, changed=Watcher(src).changed)  # the timer never fires
        ),
        daemon=True,
    )
    thread.start()
    assert asked.wait(10)
    assert questions == ["blocked"]
    done = load("deployment-complete.yaml")  # the same Deployment once the rollout finished

    def put() -> None:  # the whole finished state at once, without watch events
        for key in [k for k in km.handler.objects if k[0] == resource_of("Pod")]:
            del km.handler.objects[key]
        for obj in done:
            meta = obj["metadata"]
            km.handler.objects[resource_of(obj["kind"]), meta["namespace"], meta["name"]] = obj

    km.call(put)
    # ...and one real change through the API, which is all a watch reports
    pod = next(o for o in done if o["kind"] == "Pod")["metadata"]["name"]
    client.CoreV1Api(src.api).patch_namespaced_pod(pod, "shop", {"metadata": {"labels": {"ready-gate": "seen"}}})
    thread.join(25)
    assert not thread.is_alive(), questions
    assert result["d"].decision == "allow", result["d"].summary()
    assert questions[0] == "blocked" and questions[-1] == "allow"


class _NoWatch:
    """A source that read something but whose API refuses watches (405), like some proxies."""

    seen = {("Pod", "shop", None, None): (None, {})}

    def open_watch(self, *args: Any) -> Any:
        exc = RuntimeError("method not allowed")
        exc.status = 405  # type: ignore[attr-defined]
        raise exc


def test_no_watch_served_means_poll() -> None:
    watcher = Watcher(_NoWatch())
    assert watcher.changed(5) is None
    assert watcher.unsupported
    ticks = iter(range(1000))
    slept: list[float] = []
    answers = iter([False, False, True])

    class Answer:
        def __init__(self, final: bool) -> None:
            self.final = final

        def summary(self) -> str:
            return str(self.final)

    got = wait_for(
        lambda: Answer(next(answers)),
        100,
        interval=2,
        changed=watcher.changed,
        clock=lambda: float(next(ticks)),
        sleep=slept.append,
    )
    assert got.final and len(slept) == 2 and all(s > 0 for s in slept)
