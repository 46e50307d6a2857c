"""How `run` consults the rollout gate: before the runner lock, again after taking it, and again right
before each contract revision (the destructive DDL). No rollout target configured: one warning line
and the run proceeds, unless `require_gate = true` (exit 4). `--skip-gate --reason` is recorded.

The decision itself comes from the caller (a `Decider`: the CLI hands in the gates' live decision), so
phases never imports gates."""

from __future__ import annotations

import time
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


@dataclass
class GatePolicy:
    """What `run` does about the gate for this invocation."""

    mode: str  # "check" | "skip-unconfigured" | "skip-requested"
    decider: Decider | None
    reason: str | None = None
    wait_s: float = 0.0  # `run --wait`: ask again until allowed, denied or this many seconds have passed
    poll_s: float = 5.0
    notify: Callable[[str], None] | None = None

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
        if decider is None:
            raise GateUnknown(
                f"a rollout target is configured but no gate decision was given for {phase}; "
                "run it through the expandcontract CLI, or pass --skip-gate --reason TEXT"
            )
        return cls("check", decider)

    def check(self, phase: str, change: str | None) -> dict[str, Any] | None:
        """Raise the gate's exception unless allowed; return the evidence for the audit log."""
        if self.mode != "check" or change is None or self.decider is None:
            return None
        deadline = time.monotonic() + self.wait_s
        decision = self.decider(phase, change)
        told = ""
        while decision.decision in ("blocked", "unknown") and time.monotonic() + self.poll_s <= deadline:
            if self.notify is not None and decision.summary() != told:
                told = decision.summary()
                left = deadline - time.monotonic()
                self.notify(f"{phase} gate for {change}: {told}; asking again for up to {left:.0f}s (--wait)")
            time.sleep(self.poll_s)  # a poll interval against the live cluster, not a synchronisation
            decision = self.decider(phase, change)
        evidence = decision.as_dict()
        if decision.decision == "allow":
            return evidence
        exc_cls = {"blocked": GateBlocked, "deny": GateDenied}.get(decision.decision, GateUnknown)
        err = exc_cls(f"{phase} gate for {change}: {decision.summary()}")
        err.evidence = evidence  # type: ignore[attr-defined]
        raise err
