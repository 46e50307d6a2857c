"""How `run` consults the rollout gate (the gate's own decisions are tested in tests/gates)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from expandcontract.config import RolloutConfig
from expandcontract.db.connect import connect
from expandcontract.errors import GateBlocked, GateDenied
from expandcontract.phases.run import run_phase
from expandcontract.phases.status import project_status
from tests.phases.conftest import Notes, ProjectFactory


@dataclass
class FakeDecision:
    decision: str
    change: str

    @property
    def exit_code(self) -> int:
        return {"allow": 0, "blocked": 3, "unknown": 4, "deny": 5}[self.decision]

    def summary(self) -> str:
        return f"{self.decision}: OLD_WRITERS pod web-old-1 still runs code without {self.change}"

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "change": self.change}


@dataclass
class FakeGate:
    answers: dict[str, str]
    calls: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, phase: str, change: str) -> FakeDecision:
        self.calls.append((phase, change))
        return FakeDecision(self.answers.get(change, "allow"), change)


def _with_target(project: Any) -> Any:
    project.config = dataclasses.replace(project.config, rollout=RolloutConfig(kind="Deployment", name="web"))
    return project


def test_contract_walks_the_lane_and_stops_at_the_first_closed_gate(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None], notes: Notes
) -> None:
    for slug in ("alpha", "beta", "gamma"):
        factory.new(slug)
    project = _with_target(factory.project())
    run_phase(project, database_url, "expand", None, notify=notify)
    run_phase(project, database_url, "migrate", None, notify=notify, decider=FakeGate({}))
    gate = FakeGate({"beta": "blocked"})
    with pytest.raises(GateBlocked) as err:
        run_phase(project, database_url, "contract", None, notify=notify, decider=gate)
    assert err.value.exit_code == 3 and "beta" in str(err.value) and "web-old-1" in str(err.value)
    phases = {c.change: c.phases["contract"] for c in project_status(project, database_url).changes}
    assert phases == {"alpha": "applied", "beta": "pending", "gamma": "pending"}
    # checked before the lock, after it, and right before each contract revision
    assert gate.calls == [("contract", "alpha"), ("contract", "alpha"), ("contract", "beta")]
    with connect(database_url) as conn:
        row = conn.execute("SELECT outcome, gate->>'decision' FROM expandcontract.runs ORDER BY id DESC LIMIT 1")
        assert row.fetchone() == ("stopped-by-gate", "blocked")
    assert not any("no rollout target" in n for n in notes)


def test_a_denied_gate_stops_before_anything_runs(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None]
) -> None:
    factory.new("alpha")
    project = _with_target(factory.project())
    run_phase(project, database_url, "expand", None, notify=notify)
    with pytest.raises(GateDenied):
        run_phase(project, database_url, "migrate", None, notify=notify, decider=FakeGate({"alpha": "deny"}))
    assert project_status(project, database_url).changes[0].phases["migrate"] == "pending"


def test_skip_gate_is_recorded_and_the_gate_not_asked(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None], notes: Notes
) -> None:
    factory.new("alpha")
    project = _with_target(factory.project())
    gate = FakeGate({"alpha": "blocked"})
    run_phase(project, database_url, "expand", None, notify=notify)
    run_phase(
        project,
        database_url,
        "migrate",
        None,
        notify=notify,
        decider=gate,
        skip_gate_reason="incident 4711: rollout finished, API lags",
    )
    assert gate.calls == []
    assert any("gate skipped on request: incident 4711" in n for n in notes)
    with connect(database_url) as conn:
        assert conn.execute("SELECT skip_gate_reason FROM expandcontract.runs ORDER BY id DESC LIMIT 1").fetchone() == (
            "incident 4711: rollout finished, API lags",
        )


@dataclass
class OpensAfter:
    """Blocked for the first `n` questions, then allowed: a rollout that finishes while `run --wait` asks."""

    n: int
    calls: int = 0

    def __call__(self, phase: str, change: str) -> FakeDecision:
        self.calls += 1
        return FakeDecision("blocked" if self.calls <= self.n else "allow", change)


def test_run_wait_asks_the_gate_again_until_it_allows(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None], notes: Notes
) -> None:
    factory.new("alpha")
    project = _with_target(factory.project())
    run_phase(project, database_url, "expand", None, notify=notify)
    gate = OpensAfter(2)
    with pytest.raises(GateBlocked):  # without --wait: the first answer stands
        run_phase(project, database_url, "migrate", None, notify=notify, decider=OpensAfter(2))
    r = run_phase(
        project, database_url, "migrate", None, notify=notify, decider=gate, gate_wait_s=5.0, gate_poll_s=0.01
    )
    assert [o.revision for o in r.applied] and gate.calls >= 3
    assert any("asking again for up to" in n and "(--wait)" in n for n in notes)
