"""Rollout gates: may a phase of a change run now, given what runs in Kubernetes?

Decisions are pure functions of Kubernetes objects (dicts as kubectl prints them) and a classifier
`(stamp) -> (PodClass, reason)`, so they never import Alembic or touch a cluster; sources (live API,
snapshot file) do the reading. `decide()` is the entry point for other commands (see evaluate.py).
"""

from __future__ import annotations

from expandcontract.gates.base import Assessment, Reader, Role, SourceError, Strategy, Unit
from expandcontract.gates.evaluate import assess, decide, evaluate
from expandcontract.gates.model import ALLOW, BLOCKED, DENY, UNKNOWN, Decision, Reason, Severity, Target

__all__ = [
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
]
