"""How `run` consults the rollout gate: before the runner lock, again after taking it, and again right
before each contract revision (the destructive DDL). No rollout target configured: one warning line
and the run proceeds, unless `require_gate = true` (exit 4). `--skip-gate --reason` is recorded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from expandcontract.errors import GateBlocked, GateDenied, GateUnknown
from expandcontract.phases.project import Project


class DecisionLike(Protocol):
    @property
    def decision(self) -> str: ...

    @property
    def exit_code(self) -> int: ...

    def summary(self) -> str: ...

    def as_dict(self) -> dict[str, Any]: ...


Decider = Callable[[str, str], DecisionLike]  # (phase, change) -> decision

GATED_PHASES = ("migrate", "contract")


def live_decider(project: Project) -> Decider:
    def decide(phase: str, change: str) -> DecisionLike:
        from expandcontract.gates.evaluate import decide as gate_decide

        result: DecisionLike = gate_decide(project.config, project, phase, change)
        return result

    return decide


@dataclass
class GatePolicy:
    """What `run` does about the gate for this invocation."""

    mode: str  # "check" | "skip-unconfigured" | "skip-requested"
    decider: Decider | None
    reason: str | None = None

    @classmethod
    def for_run(
        cls, project: Project, phase: str, skip_reason: str | None, decider: Decider | None = None
    ) -> GatePolicy:
        cfg = project.config
        if phase not in GATED_PHASES:
            return cls("skip-unconfigured", None, "expand is additive: no gate")
        if skip_reason is not None:
            return cls("skip-requested", None, skip_reason)
        if not cfg.has_rollout_target:
            if cfg.require_gate:
                raise GateUnknown(
                    f"require_gate = true but no rollout target is configured, so the {phase} gate cannot "
                    "be checked; set kind, name and namespace in [tool.expandcontract.rollout], or pass "
                    "--skip-gate --reason TEXT"
                )
            return cls("skip-unconfigured", None, "no rollout target configured")
        return cls("check", decider or live_decider(project))

    def check(self, phase: str, change: str | None) -> dict[str, Any] | None:
        """Raise the gate's exception unless allowed; return the evidence for the audit log."""
        if self.mode != "check" or change is None or self.decider is None:
            return None
        decision = self.decider(phase, change)
        evidence = decision.as_dict()
        if decision.decision == "allow":
            return evidence
        exc_cls = {"blocked": GateBlocked, "deny": GateDenied}.get(decision.decision, GateUnknown)
        err = exc_cls(f"{phase} gate for {change}: {decision.summary()}")
        err.evidence = evidence  # type: ignore[attr-defined]
        raise err
