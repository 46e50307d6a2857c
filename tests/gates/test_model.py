"""Precedence, the public API, selectors, durations and --wait: the small pieces everything leans on."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import expandcontract.gates as gates
from expandcontract.errors import UsageError
from expandcontract.gates.base import SourceError
from expandcontract.gates.evaluate import evaluate
from expandcontract.gates.model import Decision, Reason, Severity, Target, outcome
from expandcontract.gates.objects import matches
from expandcontract.gates.wait import parse_duration, wait_for

from .conftest import decide_on, fake_classify, load


def test_public_api_is_pinned() -> None:
    assert gates.__all__ == sorted(gates.__all__, key=lambda n: (not n.isupper(), n))
    assert set(gates.__all__) == {
        "ALLOW",
        "BLOCKED",
        "DENY",
        "UNKNOWN",
        "Assessment",
        "Decision",
        "Reader",
        "Reason",
        "Role",
        "Severity",
        "SourceError",
        "Strategy",
        "Target",
        "Unit",
        "assess",
        "decide",
        "evaluate",
    }


def r(sev: Severity) -> Reason:
    return Reason("X", "x", (), sev)


@pytest.mark.parametrize(
    ("severities", "expected"),
    [
        ([], "allow"),
        ([Severity.WARN], "allow"),
        ([Severity.BLOCK, Severity.WARN], "blocked"),
        ([Severity.BLOCK, Severity.UNKNOWN], "unknown"),
        ([Severity.UNKNOWN, Severity.DENY, Severity.BLOCK], "deny"),
        ([Severity.DENY, Severity.UNTRUSTED], "unknown"),
    ],
)
def test_precedence(severities: list[Severity], expected: str) -> None:
    assert outcome([r(s) for s in severities]) == expected
    decision = Decision("contract", "c", "rolling", Target("Deployment", "web"), tuple(r(s) for s in severities))
    assert decision.decision == expected
    assert decision.exit_code == {"allow": 0, "blocked": 3, "unknown": 4, "deny": 5}[expected]
    assert decision.final is (expected in ("allow", "deny"))


@pytest.mark.parametrize("phase", ["expand", "undo-contract"])
def test_additive_phases_always_allow(phase: str) -> None:
    decision = Decision(phase, "c", "rolling", None, (r(Severity.UNTRUSTED), r(Severity.DENY)))
    assert decision.decision == "allow" and decision.exit_code == 0


class Failing:
    def get(self, *args: Any) -> Any:
        raise SourceError("FORBIDDEN", "no access")

    def list(self, *args: Any) -> Any:
        raise SourceError("FORBIDDEN", "no access")


def test_source_errors_are_unknown_except_for_additive_phases() -> None:
    target = Target("Deployment", "web", "shop")
    assert evaluate(Failing(), "migrate", "c", target, fake_classify).decision == "unknown"
    expand = evaluate(Failing(), "expand", "c", target, fake_classify)
    assert expand.decision == "allow"
    assert expand.reasons[0].severity is Severity.WARN and expand.reasons[0].code == "FORBIDDEN"
    with pytest.raises(UsageError):
        evaluate(Failing(), "deploy", "c", target, fake_classify)


def test_undo_contract_allows_even_mid_rollout() -> None:
    assert decide_on(load("deployment-mid.yaml"), "undo-contract", "Deployment").decision == "allow"


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({"matchLabels": {"app": "web"}}, {"app": "web", "x": "1"}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "api"}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}, {"tier": "b"}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {"tier": "a"}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "Gt", "values": ["1"]}]}, {"tier": "2"}, False),
        ({"app": "web"}, {"app": "web"}, True),
        ({}, {"app": "web"}, False),
        (None, {"app": "web"}, False),
    ],
)
def test_selectors(selector: Any, labels: dict[str, str], expected: bool) -> None:
    assert matches(selector, labels) is expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("15m", 900.0), ("1h30m", 5400.0), ("500ms", 0.5), ("2m30s", 150.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5d", "m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


def fake_time() -> tuple[Any, Any]:
    now = [0.0]
    return (lambda: now[0]), (lambda s: now.__setitem__(0, now[0] + s))


def decision(value: str) -> Decision:
    sev = {"allow": [], "blocked": [Severity.BLOCK], "unknown": [Severity.UNKNOWN], "deny": [Severity.DENY]}[value]
    return Decision("migrate", "c", "rolling", None, tuple(r(s) for s in sev))


@pytest.mark.parametrize("end", ["allow", "deny"])
def test_wait_returns_as_soon_as_the_answer_is_final(end: str) -> None:
    clock, sleep = fake_time()
    answers = itertools.chain(["unknown", "blocked", "blocked"], itertools.repeat(end))
    seen: list[str] = []
    result = wait_for(
        lambda: decision(next(answers)),
        60,
        interval=1,
        clock=clock,
        sleep=sleep,
        on_change=lambda d: seen.append(d.decision),
    )
    assert result.decision == end
    assert clock() == 3.0
    assert seen == ["unknown", "blocked", end]  # progress reported once per change


def test_wait_times_out_with_the_last_answer() -> None:
    clock, sleep = fake_time()
    result = wait_for(lambda: decision("blocked"), 5, interval=2, clock=clock, sleep=sleep)
    assert result.decision == "blocked"
    assert clock() == 5.0
