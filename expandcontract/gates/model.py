"""What a gate answers: a Decision built from reasons, with the precedence of gates.md.

Every strategy reports what it saw as a list of Reasons, each with a severity. The decision is then a
function of the severities alone, so no strategy can get the precedence wrong: status not trustworthy ->
unknown; else any deny -> deny; else anything unknown -> unknown; else anything blocking -> blocked;
else allow. Warnings never change the decision.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from dataclasses import dataclass, field
from typing import Any

from expandcontract.errors import EXIT_BLOCKED, EXIT_DENIED, EXIT_OK, EXIT_UNKNOWN

ALLOW = "allow"
BLOCKED = "blocked"
UNKNOWN = "unknown"
DENY = "deny"

EXIT_CODES = {ALLOW: EXIT_OK, BLOCKED: EXIT_BLOCKED, UNKNOWN: EXIT_UNKNOWN, DENY: EXIT_DENIED}

PHASES = ("expand", "migrate", "contract", "undo-expand", "undo-contract")
ADDITIVE = ("expand", "undo-contract")  # always allowed: what they see is a warning


class Severity(enum.IntEnum):
    """Ordered by precedence: the highest present decides."""

    WARN = 0
    BLOCK = 1
    UNKNOWN = 2
    DENY = 3
    UNTRUSTED = 4  # the status itself cannot be trusted: nothing else it says counts


_OUTCOME = {
    Severity.WARN: ALLOW,
    Severity.BLOCK: BLOCKED,
    Severity.UNKNOWN: UNKNOWN,
    Severity.DENY: DENY,
    Severity.UNTRUSTED: UNKNOWN,
}


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    objects: tuple[str, ...] = ()
    severity: Severity = Severity.BLOCK

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "objects": list(self.objects),
            "severity": self.severity.name.lower(),
        }


@dataclass(frozen=True)
class Target:
    kind: str
    name: str
    namespace: str = "default"

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @classmethod
    def parse(cls, text: str, namespace: str = "default") -> Target:
        """`KIND/NAMESPACE/NAME`, or `KIND/NAME` in `namespace`. ValueError otherwise."""
        parts = text.strip().split("/")
        if len(parts) == 2:
            parts.insert(1, namespace)
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise ValueError(f"target {text!r} is not KIND/NAMESPACE/NAME (e.g. Deployment/shop/web)")
        kind, ns, name = (p.strip() for p in parts)
        return cls(kind, name, ns)

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "namespace": self.namespace}


def outcome(reasons: list[Reason] | tuple[Reason, ...]) -> str:
    """The decision the reasons add up to (gates.md precedence)."""
    if not reasons:
        return ALLOW
    return _OUTCOME[max(r.severity for r in reasons)]


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Decision:
    phase: str
    change: str
    strategy: str
    target: Target | None
    reasons: tuple[Reason, ...] = ()
    observed: dict[str, Any] = field(default_factory=dict)
    checked_at: str = field(default_factory=now_iso)

    @property
    def decision(self) -> str:
        if self.phase in ADDITIVE:
            return ALLOW
        return outcome(self.reasons)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.decision]

    @property
    def final(self) -> bool:
        """allow and deny end a `--wait`; blocked and unknown may change."""
        return self.decision in (ALLOW, DENY)

    def deciding(self) -> list[Reason]:
        """The reasons of the severity that decided, or the warnings on allow."""
        if not self.reasons:
            return []
        top = max(r.severity for r in self.reasons)
        return [r for r in self.reasons if r.severity == top]

    def summary(self) -> str:
        """One line: `contract(users-email) blocked: Deployment default/web: ... [CODE]`."""
        head = f"{self.phase}({self.change}) {self.decision}:" + (f" {self.target}:" if self.target else "")
        reasons = self.deciding()
        if not reasons:
            return f"{head} every counted pod and template is compatible"
        first = reasons[0]
        more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
        return f"{head} {first.message} [{first.code}]{more}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "exit_code": self.exit_code,
            "phase": self.phase,
            "change": self.change,
            "strategy": self.strategy,
            "target": self.target.as_dict() if self.target else None,
            "reasons": [r.as_dict() for r in self.reasons],
            "observed": self.observed,
            "checked_at": self.checked_at,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=False)


@dataclass(frozen=True)
class GateDecision:
    """The answer over every configured target: allowed only when each target allows.

    `parts` holds one Decision per target (the verdicts JSON lists under `targets`); `selection` holds
    the reasons about choosing the targets (a selector that matched nothing, a kind that could not be listed).
    The outcome applies the same precedence to all reasons of all targets, so one untrusted status is
    unknown, else one deny anywhere denies, and so on.
    """

    phase: str
    change: str
    parts: tuple[Decision, ...] = ()
    selection: tuple[Reason, ...] = ()  # about choosing the targets (a selector that matched nothing)
    checked_at: str = field(default_factory=now_iso)

    def all_reasons(self) -> list[tuple[Target | None, Reason]]:
        return [(None, r) for r in self.selection] + [(p.target, r) for p in self.parts for r in p.reasons]

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """Every reason of every target (and of the selection), in order."""
        return tuple(r for _, r in self.all_reasons())

    @property
    def target(self) -> Target | None:
        return self.parts[0].target if len(self.parts) == 1 else None

    @property
    def decision(self) -> str:
        if self.phase in ADDITIVE:
            return ALLOW
        return outcome([r for _, r in self.all_reasons()])

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.decision]

    @property
    def final(self) -> bool:
        return self.decision in (ALLOW, DENY)

    @property
    def strategy(self) -> str:
        names = {p.strategy for p in self.parts}
        return names.pop() if len(names) == 1 else "multi"

    def deciding(self) -> list[Reason]:
        """The reasons of the severity that decided, over every target."""
        return [r for _, r in self.deciding_pairs()]

    def deciding_pairs(self) -> list[tuple[Target | None, Reason]]:
        pairs = self.all_reasons()
        if not pairs:
            return []
        top = max(r.severity for _, r in pairs)
        return [(t, r) for t, r in pairs if r.severity == top]

    def summary(self) -> str:
        if len(self.parts) == 1 and not self.selection:
            return self.parts[0].summary()
        head = f"{self.phase}({self.change}) {self.decision}:"
        agree = sum(1 for p in self.parts if p.decision == self.decision)
        scope = f" {agree} of {len(self.parts)} targets {self.decision};" if self.parts else ""
        pairs = self.deciding_pairs()
        if not pairs:
            return f"{head}{scope} every counted pod and template of every target is compatible"
        target, first = pairs[0]
        where = f" {target}:" if target else ""
        more = f" (+{len(pairs) - 1} more)" if len(pairs) > 1 else ""
        return f"{head}{scope}{where} {first.message} [{first.code}]{more}"

    @property
    def observed(self) -> dict[str, Any]:
        """The one target's figures, or for several the number of targets and the pods by class."""
        if len(self.parts) == 1:
            return dict(self.parts[0].observed)
        pods: dict[str, int] = {}
        for part in self.parts:
            for cls, n in (part.observed.get("pods") or {}).items():
                pods[cls] = pods.get(cls, 0) + n
        return {"targets": len(self.parts), "pods": dict(sorted(pods.items()))}

    def as_dict(self) -> dict[str, Any]:
        single = self.parts[0] if len(self.parts) == 1 else None
        reasons = [dict(r.as_dict(), target=t.as_dict() if t else None) for t, r in self.all_reasons()]
        observed = self.observed
        return {
            "decision": self.decision,
            "exit_code": self.exit_code,
            "phase": self.phase,
            "change": self.change,
            "strategy": self.strategy if self.parts else "-",
            "target": single.target.as_dict() if single and single.target else None,
            "reasons": reasons,
            "observed": observed,
            "checked_at": self.checked_at,
            "targets": [p.as_dict() for p in self.parts],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=False)
