"""Glue: source + strategies + classifier -> GateDecision. The one entry point other commands call.

    from expandcontract.gates.evaluate import decide
    decision = decide(config, project, "contract", "users-email")            # live cluster
    decision = decide(config, project, "migrate", "users-email", snapshot=Path("state.yaml"))
    decision.decision   # "allow" | "blocked" | "unknown" | "deny"
    decision.exit_code  # 0 | 3 | 4 | 5
    decision.parts      # one Decision per target, each with .target, .decision, .reasons
    decision.summary()  # one line;  decision.to_json() / decision.as_dict() for the JSON document

`decide` reads the targets from `[tool.expandcontract.rollout]` (one target, a `targets` list or a
label `selector` over workloads; or `target=`/`targets=`), never the database, and never raises for
anything the cluster says: unreachable, forbidden, missing objects all come back as an `unknown`
decision (fail closed). A phase is allowed only when every target allows it. It raises only for bad
usage (no target configured, unknown kind or change, unreadable snapshot file): ExpandContractError
subclasses with exit code 2. `run` calls it before a phase, after taking the advisory lock and right
before destructive DDL; call it again each time rather than caching a decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expandcontract.errors import ConfigError, UsageError
from expandcontract.gates.base import Classify, Reader, SourceError
from expandcontract.gates.judge import judge
from expandcontract.gates.model import ADDITIVE, PHASES, Decision, GateDecision, Reason, Severity, Target
from expandcontract.gates.objects import Obj, ObjectSet, generation, name_of, parse_selector, uid
from expandcontract.gates.pods import controller_uid
from expandcontract.gates.registry import STRATEGIES

if TYPE_CHECKING:
    from expandcontract.config import Config
    from expandcontract.phases.project import Project


@dataclass(frozen=True)
class Selection:
    """What to judge: named targets, or every workload a label selector picks in one namespace."""

    targets: tuple[Target, ...] = ()
    selector: str | None = None
    namespace: str = "default"
    kinds: tuple[str, ...] = ()  # selector only: which kinds it looks at (default: every registered kind)

    def __str__(self) -> str:
        if self.selector is not None:
            return f"workloads matching {self.selector!r} in {self.namespace}"
        return ", ".join(str(t) for t in self.targets)


def _checked(target: Target, where: str) -> Target:
    if target.kind not in STRATEGIES:
        raise UsageError(f"{where}: unsupported rollout kind {target.kind!r}; use one of {', '.join(STRATEGIES)}")
    return target


def selection_from(
    config: Config,
    kind: str | None = None,
    name: str | None = None,
    namespace: str | None = None,
    targets: Sequence[str] = (),
) -> Selection:
    """Flags first (`--target` ..., or `--kind/--name`), then `[tool.expandcontract.rollout]`.
    UsageError (exit 2) when there is none or a kind is not one the registry knows."""
    rollout = config.rollout
    default_ns = namespace or rollout.namespace
    if targets:
        if kind or name:
            raise UsageError("pass either --target KIND/NAMESPACE/NAME ... or --kind/--name, not both")
        try:
            parsed = tuple(_checked(Target.parse(t, default_ns), "--target") for t in targets)
        except ValueError as exc:
            raise UsageError(f"--target: {exc}") from None
        return Selection(parsed)
    if kind or name:
        if not (kind or rollout.kind) or not (name or rollout.name):
            raise UsageError("--kind and --name go together (or set the other one in [tool.expandcontract.rollout])")
        return Selection(
            (_checked(Target(kind or rollout.kind or "", name or rollout.name or "", default_ns), "--kind"),)
        )
    where = "[tool.expandcontract.rollout]"
    found: list[Target] = []
    if rollout.kind and rollout.name:
        found.append(_checked(Target(rollout.kind, rollout.name, default_ns), where))
    elif rollout.kind or rollout.name:
        raise ConfigError(f"{where}: kind and name go together; set both, or use targets = [...]")
    for item in rollout.targets:
        found.append(
            _checked(Target(item.kind, item.name, namespace or item.namespace or rollout.namespace), f"{where} targets")
        )
    if rollout.selector is not None:
        if found:
            raise ConfigError(f"{where}: use either selector or kind/name/targets, not both")
        try:
            parse_selector(rollout.selector)
        except ValueError as exc:
            raise ConfigError(f"{where} selector: {exc}") from None
        for k in rollout.kinds:
            _checked(Target(k, "-"), f"{where} kinds")
        return Selection(selector=rollout.selector, namespace=default_ns, kinds=rollout.kinds)
    if rollout.kinds:
        raise ConfigError(f"{where}: kinds only goes with selector")
    if not found:
        raise UsageError(
            "no rollout target: pass --target KIND/NAMESPACE/NAME (or --kind KIND --name NAME [--namespace NS]), "
            "or set kind and name, targets = [...] or selector in [tool.expandcontract.rollout]"
        )
    return Selection(tuple(dict.fromkeys(found)))


def target_from(
    config: Config, kind: str | None = None, name: str | None = None, namespace: str | None = None
) -> Target:
    """The one target of a single-target configuration (kept for callers that want exactly one)."""
    selection = selection_from(config, kind, name, namespace)
    if len(selection.targets) != 1:
        raise UsageError(f"expected one rollout target, the configuration names {selection}")
    return selection.targets[0]


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
    decision = judge(phase, change, strategy.name, target, strategy.assess(objects, target, options or {}), classify)
    if objects.errors:
        unread = tuple(
            Reason(code, msg, objs or (str(target),), Severity.UNKNOWN) for code, msg, objs in objects.errors
        )
        decision = replace(decision, reasons=(*unread, *decision.reasons))
    return _phase_view(decision)


def evaluate(
    reader: Reader,
    phase: str,
    change: str,
    target: Target,
    classify: Classify,
    options: Mapping[str, Any] | None = None,
) -> Decision:
    """Read what the strategy needs for one target, check it did not change meanwhile, decide."""
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
    decision = assess(phase, change, target, objects, classify, opts)
    if before is not None and generation(before) != generation(after):
        changed = Reason(
            "GENERATION_CHANGED",
            f"{target} changed while the gate read it (generation {generation(before)} -> "
            f"{generation(after)}); retry (add `--wait 5m`)",
            (str(target),),
            Severity.UNTRUSTED,
        )
        decision = _phase_view(replace(decision, reasons=(*decision.reasons, changed)))
    return decision


def resolve(reader: Reader, selection: Selection) -> tuple[tuple[Target, ...], tuple[Reason, ...]]:
    """The targets a selection names; for a selector, the workloads it matches now (I/O).

    A kind whose list is a 404 has no CRD installed, so none of it exists. A workload another selected
    one already judges (a Flagger canary's Deployments, an Argo workloadRef, a CronJob's Jobs, anything
    whose controller is selected) is not judged twice.
    """
    if selection.selector is None:
        return selection.targets, ()
    selector = parse_selector(selection.selector)
    kinds = selection.kinds or tuple(STRATEGIES)
    candidates: list[Obj] = []
    reasons: list[Reason] = []
    for kind in kinds:
        try:
            candidates += [o for o in reader.list(kind, selection.namespace, selector) if STRATEGIES[kind].selected(o)]
        except SourceError as exc:
            if exc.code != "NOT_FOUND":
                reasons.append(Reason(exc.code, exc.message, exc.objects, Severity.UNKNOWN))
    covered = {pair for obj in candidates for pair in STRATEGIES[str(obj.get("kind"))].covers(obj)}
    uids = {uid(o) for o in candidates} - {None}
    found = tuple(
        Target(str(o.get("kind")), name_of(o), selection.namespace)
        for o in candidates
        if (str(o.get("kind")), name_of(o)) not in covered and controller_uid(o) not in uids
    )
    if not found and not reasons:
        reasons.append(
            Reason(
                "NO_TARGETS",
                f"no workload matches the selector {selection.selector!r} in namespace {selection.namespace} "
                f"(kinds {', '.join(kinds)}); check the selector and namespace in [tool.expandcontract.rollout]",
                (),
                Severity.UNKNOWN,
            )
        )
    return found, tuple(reasons)


def evaluate_all(
    reader: Reader,
    phase: str,
    change: str,
    selection: Selection | Iterable[Target],
    classify: Classify,
    options: Mapping[str, Any] | None = None,
) -> GateDecision:
    """Every target's Decision, combined: allowed only when each target allows."""
    if phase not in PHASES:
        raise UsageError(f"unknown phase {phase!r}; use one of {', '.join(PHASES)}")
    if not isinstance(selection, Selection):
        selection = Selection(tuple(selection))
    targets, reasons = resolve(reader, selection)
    parts = tuple(evaluate(reader, phase, change, t, classify, options) for t in targets)
    if phase in ADDITIVE:
        reasons = tuple(replace(r, severity=Severity.WARN) for r in reasons)
    return GateDecision(phase, change, parts, reasons)


def _phase_view(decision: Decision) -> Decision:
    """expand and undo-contract are additive and always allowed: everything they saw is a warning."""
    if decision.phase not in ADDITIVE:
        return decision
    warned = tuple(replace(r, severity=Severity.WARN) for r in decision.reasons)
    return replace(decision, reasons=warned)


def reader_for(config: Config, snapshot: Path | Sequence[Path] | None) -> Reader:
    from expandcontract.gates.sources import LiveSource, SnapshotSource

    if snapshot is not None:
        paths = (snapshot,) if isinstance(snapshot, Path) else tuple(snapshot)
        if paths:
            return SnapshotSource(*paths)
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
    snapshot: Path | Sequence[Path] | None = None,
    target: Target | None = None,
    targets: Sequence[Target] | None = None,
    reader: Reader | None = None,
) -> GateDecision:
    """The gate decision for `phase` of `change` on the configured rollout targets. See the module doc."""
    classify = classifier_for(project, change)  # unknown change -> ProjectError (exit 2) before any I/O
    if target is not None or targets:
        selection = Selection(tuple(_checked(t, "target") for t in (*([target] if target else []), *(targets or ()))))
    else:
        selection = selection_from(config)
    return evaluate_all(
        reader or reader_for(config, snapshot), phase, change, selection, classify, options_from(config)
    )
