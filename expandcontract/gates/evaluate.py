"""Glue: source + strategy + classifier -> Decision. The one entry point other commands call.

    from expandcontract.gates.evaluate import decide
    decision = decide(config, project, "contract", "users-email")            # live cluster
    decision = decide(config, project, "migrate", "users-email", snapshot=Path("state.yaml"))
    decision.decision   # "allow" | "blocked" | "unknown" | "deny"
    decision.exit_code  # 0 | 3 | 4 | 5
    decision.reasons    # (Reason(code, message, objects, severity), ...)
    decision.summary()  # one line;  decision.to_json() / decision.as_dict() for the JSON document

`decide` reads the target from `[tool.expandcontract.rollout]` (or `target=`), never the database, and
never raises for anything the cluster says: unreachable, forbidden, missing objects all come back as an
`unknown` Decision (fail closed). It raises only for bad usage (no target configured, unknown change,
unreadable snapshot file): ExpandContractError subclasses with exit code 2. `run` calls it before a
phase, after taking the advisory lock and right before destructive DDL; call it again each time rather
than caching a Decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expandcontract.errors import UsageError
from expandcontract.gates.base import Classify, Reader, SourceError
from expandcontract.gates.judge import judge
from expandcontract.gates.model import ADDITIVE, PHASES, Decision, Reason, Severity, Target
from expandcontract.gates.objects import ObjectSet, generation
from expandcontract.gates.registry import STRATEGIES

if TYPE_CHECKING:
    from expandcontract.config import Config
    from expandcontract.phases.project import Project


def target_from(
    config: Config, kind: str | None = None, name: str | None = None, namespace: str | None = None
) -> Target:
    """Flags first, then `[tool.expandcontract.rollout]`. UsageError (exit 2) when there is none."""
    rollout = config.rollout
    kind, name = kind or rollout.kind, name or rollout.name
    if not kind or not name:
        raise UsageError(
            "no rollout target: pass --kind KIND --name NAME [--namespace NS], or set kind and name in "
            "[tool.expandcontract.rollout]"
        )
    if kind not in STRATEGIES:
        raise UsageError(f"unsupported rollout kind {kind!r}; use one of {', '.join(STRATEGIES)}")
    return Target(kind, name, namespace or rollout.namespace)


def options_from(config: Config) -> dict[str, Any]:
    return {"colour_key": config.rollout.colour_key, "colours": config.rollout.colours}


def assess(
    phase: str,
    change: str,
    target: Target,
    objects: ObjectSet,
    classify: Classify,
    options: Mapping[str, Any] | None = None,
) -> Decision:
    """The decision over objects already in hand. Pure: what the tests drive with fixtures."""
    strategy = STRATEGIES[target.kind]
    return judge(phase, change, strategy.name, target, strategy.assess(objects, target, options or {}), classify)


def evaluate(
    reader: Reader,
    phase: str,
    change: str,
    target: Target,
    classify: Classify,
    options: Mapping[str, Any] | None = None,
) -> Decision:
    """Read what the strategy needs, check the workload did not change meanwhile, decide."""
    if phase not in PHASES:
        raise UsageError(f"unknown phase {phase!r}; use one of {', '.join(PHASES)}")
    strategy = STRATEGIES[target.kind]
    opts = options or {}
    try:
        objects = strategy.collect(reader, target, opts)
        before = objects.get(target.kind, target.namespace, target.name)
        after = reader.get(target.kind, target.namespace, target.name)
    except SourceError as exc:
        reason = Reason(exc.code, exc.message, exc.objects or (str(target),), Severity.UNKNOWN)
        return _phase_view(Decision(phase, change, strategy.name, target, (reason,)))
    decision = judge(phase, change, strategy.name, target, strategy.assess(objects, target, opts), classify)
    if before is not None and generation(before) != generation(after):
        changed = Reason(
            "GENERATION_CHANGED",
            f"{target} changed while the gate read it (generation {generation(before)} -> "
            f"{generation(after)}); retry (add `--wait 5m`)",
            (str(target),),
            Severity.UNTRUSTED,
        )
        decision = replace(decision, reasons=(*decision.reasons, changed))
    return _phase_view(decision)


def _phase_view(decision: Decision) -> Decision:
    """expand and undo-contract are additive and always allowed: everything they saw is a warning."""
    if decision.phase not in ADDITIVE:
        return decision
    warned = tuple(replace(r, severity=Severity.WARN) for r in decision.reasons)
    return replace(decision, reasons=warned)


def reader_for(config: Config, snapshot: Path | None) -> Reader:
    from expandcontract.gates.sources import LiveSource, SnapshotSource

    if snapshot is not None:
        return SnapshotSource(snapshot)
    try:
        return LiveSource.from_config(config.rollout)
    except SourceError as exc:
        return _Failing(exc)


class _Failing:
    """A reader that could not be built: every read is the same SourceError (-> unknown)."""

    def __init__(self, exc: SourceError) -> None:
        self.exc = exc

    def get(self, kind: str, namespace: str, name: str) -> Any:
        raise self.exc

    def list(self, kind: str, namespace: str, selector: Mapping[str, Any] | None = None) -> Any:
        raise self.exc


def classifier_for(project: Project, change: str) -> Classify:
    from expandcontract.phases.stamp import Classifier

    return Classifier(project, change).explain


def decide(
    config: Config,
    project: Project,
    phase: str,
    change: str,
    *,
    snapshot: Path | None = None,
    target: Target | None = None,
    reader: Reader | None = None,
) -> Decision:
    """The gate decision for `phase` of `change` on the configured rollout target. See the module doc."""
    classify = classifier_for(project, change)  # unknown change -> ProjectError (exit 2) before any I/O
    tgt = target or target_from(config)
    return evaluate(reader or reader_for(config, snapshot), phase, change, tgt, classify, options_from(config))
