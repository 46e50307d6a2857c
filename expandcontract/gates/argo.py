"""Argo Rollouts (argoproj.io/v1alpha1 Rollout), canary and blueGreen.

Healthy does not mean the old pods are gone: with traffic routing and blueGreen the old ReplicaSet stays
up for `scaleDownDelaySeconds` (marked by its `scale-down-deadline` annotation), after an abort the new
one is kept for `abortScaleDownDelaySeconds`, and revisions inside `spec.rollbackWindow` can be rolled
back to without steps or analysis. All of those are hot rollback targets; this module says which
ReplicaSet plays which role and leaves the phase rules to judge.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expandcontract.gates.base import Assessment, Reader, Role, Strategy, add_owned, read_into
from expandcontract.gates.deployment import PROGRESSING_REASONS, missing
from expandcontract.gates.mirror import argo_mirrors
from expandcontract.gates.model import Reason, Severity, Target
from expandcontract.gates.objects import (
    DEPLOYMENT,
    POD,
    REPLICASET,
    Kind,
    Obj,
    ObjectSet,
    annotations_of,
    condition,
    dig,
    generation,
    labels,
    matches,
    ref,
    uid,
)
from expandcontract.gates.pods import (
    ARGO_HASH,
    controller_uid,
    counts,
    owned,
    pod_unit,
    revision,
    scaled_up,
    template_unit,
    unseen,
)

ROLLOUT = Kind("Rollout", "argoproj.io", "v1alpha1", "rollouts")
PHASES = frozenset({"Healthy", "Progressing", "Paused", "Degraded"})
# Every condition reason Argo Rollouts writes (utils/conditions/conditions.go); anything else is unknown.
REASONS = PROGRESSING_REASONS | {
    "InvalidSpec",
    "AvailableReason",
    "ReplicaSetCreateError",
    "RolloutUpdated",
    "RolloutCompleted",
    "RolloutNotCompleted",
    "RolloutHealthy",
    "RolloutAborted",
    "RolloutRetry",
    "RolloutPaused",
    "ReplicaSetNotAvailable",
    "RolloutResumed",
    "RolloutStepCompleted",
    "TrafficWeightUpdated",
    "AnalysisRunFailed",
    "ExperimentFailed",
    "ReconciliationError",
    "RolloutDeleted",
    "ScalingReplicaSet",
    "ServiceReferenceError",
    "StepPluginTransition",
    "TargetGroupVerified",
    "TargetGroupUnverified",
    "TargetGroupVerifyError",
    "WeightVerifyError",
    "LoadBalancerNotFound",
    "RolloutAddedToInformer",
}
SCALE_DOWN = ("scale-down-deadline", "argo-rollouts.argoproj.io/scale-down-deadline")
WORKLOAD_GENERATION = "rollout.argoproj.io/workload-generation"


def _hash(rs: Mapping[str, Any]) -> str | None:
    value = dig(rs, "metadata", "labels", ARGO_HASH)
    return str(value) if value else None


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def generation_observed(ro: Mapping[str, Any]) -> bool:
    """Argo's isGenerationObserved: a non-numeric observedGeneration (the pre-1.0 hash form) counts as
    observed, and so does a number not behind metadata.generation. A missing one is not observed."""
    obs = dig(ro, "status", "observedGeneration")
    if obs is None:
        return False
    number, gen = _int(obs), _int(dig(ro, "metadata", "generation", default=0))
    return number is None or gen is None or number >= gen


def workload_observed(ro: Mapping[str, Any]) -> bool:
    """With spec.workloadRef: the referenced Deployment's generation (annotation on the Rollout) is not
    ahead of status.workloadObservedGeneration (Argo's isWorkloadGenerationObserved)."""
    want = _int(annotations_of(ro).get(WORKLOAD_GENERATION, ""))
    seen = _int(dig(ro, "status", "workloadObservedGeneration", default=""))
    return want is None or seen is None or want <= seen


def status_reasons(ro: Mapping[str, Any]) -> list[Reason]:
    what = ref(ro)
    out: list[Reason] = []
    gen, obs = generation(ro), dig(ro, "status", "observedGeneration")
    if not generation_observed(ro):
        out.append(
            Reason(
                "STATUS_NOT_OBSERVED",
                f"{what}: generation {gen} not yet observed by the Argo Rollouts controller (observedGeneration "
                f"{obs}); check the controller is running, retry (add `--wait 5m`)",
                (what,),
                Severity.UNTRUSTED,
            )
        )
    if dig(ro, "spec", "workloadRef") is not None and not workload_observed(ro):
        out.append(
            Reason(
                "STATUS_NOT_OBSERVED",
                f"{what}: the referenced Deployment changed (workload-generation "
                f"{annotations_of(ro).get(WORKLOAD_GENERATION)}) and Argo has observed only "
                f"{dig(ro, 'status', 'workloadObservedGeneration')}; retry (add `--wait 5m`)",
                (what,),
                Severity.UNTRUSTED,
            )
        )
    if dig(ro, "status", "controllerPause") is True and not dig(ro, "status", "pauseConditions"):
        out.append(
            Reason(
                "STATUS_NOT_OBSERVED",
                f"{what}: controllerPause is set without pauseConditions (status mid-update); retry",
                (what,),
                Severity.UNTRUSTED,
            )
        )
    phase = dig(ro, "status", "phase")
    if phase not in PHASES:
        out.append(
            Reason(
                "UNKNOWN_VALUE",
                f"{what}: status.phase {phase!r} is not one of {', '.join(sorted(PHASES))}; check the Argo "
                "Rollouts version (`kubectl argo rollouts get rollout`)",
                (what,),
                Severity.UNKNOWN,
            )
        )
    progressing = condition(ro, "Progressing")
    reason = progressing.get("reason") if progressing else None
    if reason is not None and reason not in REASONS:
        out.append(
            Reason(
                "UNKNOWN_VALUE",
                f"{what}: Progressing reason {reason!r} is not one this gate knows; check the rollout",
                (what,),
                Severity.UNKNOWN,
            )
        )
    fix = "fix the release and retry it (`kubectl argo rollouts retry rollout`), or roll back"
    if dig(ro, "status", "abort") is True or reason == "RolloutAborted":
        out.append(Reason("ROLLOUT_ABORTED", f"{what} was aborted; {fix}", (what,), Severity.DENY))
    invalid = condition(ro, "InvalidSpec")
    if invalid is not None and str(invalid.get("status", "True")) == "True":
        msg = invalid.get("message", "")
        out.append(Reason("ROLLOUT_INVALID_SPEC", f"{what} has an invalid spec ({msg}); {fix}", (what,), Severity.DENY))
    if phase == "Degraded":
        msg = dig(ro, "status", "message", default="")
        out.append(Reason("ROLLOUT_DEGRADED", f"{what} is Degraded ({msg}); {fix}", (what,), Severity.DENY))
    if reason == "ProgressDeadlineExceeded":
        out.append(
            Reason(
                "PROGRESS_DEADLINE_EXCEEDED",
                f"{what} exceeded its progress deadline; {fix}",
                (what,),
                Severity.DENY,
            )
        )
    return out


def roles(ro: Mapping[str, Any], rss: list[Obj]) -> dict[str, Role]:
    """The role of each scaled-up or rollback-window ReplicaSet, by name. Cold history is absent."""
    status = dig(ro, "status", default={})
    current, stable = status.get("currentPodHash"), status.get("stableRS")
    promoted = bool(stable) and stable == current
    blue_green = dig(ro, "spec", "strategy", "blueGreen") is not None
    result: dict[str, Role] = {}
    window = dig(ro, "spec", "rollbackWindow", "revisions", default=0)
    older = sorted((rs for rs in rss if _hash(rs) != current), key=revision, reverse=True)
    in_window = {id(rs) for rs in older[: window if isinstance(window, int) else 0]}
    for rs in rss:
        name, h = str(dig(rs, "metadata", "name")), _hash(rs)
        if h == current:
            result[name] = Role.CURRENT if promoted else (Role.PREVIEW if blue_green else Role.CANARY)
        elif scaled_up(rs) and any(k in annotations_of(rs) for k in SCALE_DOWN):
            result[name] = Role.HOT_ROLLBACK
        elif scaled_up(rs):
            result[name] = Role.OLD  # the stable side mid rollout, or an intermediate canary
        elif id(rs) in in_window:
            result[name] = Role.ROLLBACK_WINDOW
    return result


class Argo(Strategy):
    name = "argo"
    api = ROLLOUT
    reads = (REPLICASET, POD, DEPLOYMENT)

    def collect(self, reader: Reader, target: Target, options: Mapping[str, Any]) -> ObjectSet:
        ro = reader.get("Rollout", target.namespace, target.name)
        objs = ObjectSet.of([ro])
        ref_name = dig(ro, "spec", "workloadRef", "name")
        if ref_name and read_into(objs, lambda: reader.get("Deployment", target.namespace, str(ref_name))):
            dep = objs.get("Deployment", target.namespace, str(ref_name))
            if dep is not None:  # its own pods still run until Argo scales it down (workloadRef.scaleDown)
                add_owned(reader, objs, dep, target.namespace)
        add_owned(reader, objs, ro, target.namespace, ("ReplicaSet",))
        add_owned(reader, objs, ro, target.namespace, ("Pod",))
        hashes = sorted({h for rs in owned(objs.list("ReplicaSet", target.namespace), ro) if (h := _hash(rs))})
        if hashes:  # Experiment and AnalysisRun pods carry the hash but may fall outside the selector
            expr = {"matchExpressions": [{"key": ARGO_HASH, "operator": "In", "values": hashes}]}
            read_into(objs, lambda: reader.list("Pod", target.namespace, expr))
        return objs

    def incoming(self, reader: Reader, target: Target) -> Obj | None:
        ro = reader.get("Rollout", target.namespace, target.name)
        ref_name = dig(ro, "spec", "workloadRef", "name")
        return reader.get("Deployment", target.namespace, str(ref_name)) if ref_name else ro

    def covers(self, obj: Obj) -> tuple[tuple[str, str], ...]:
        ref_name = dig(obj, "spec", "workloadRef", "name")
        return (("Deployment", str(ref_name)),) if ref_name else ()

    def assess(self, objects: ObjectSet, target: Target, options: Mapping[str, Any]) -> Assessment:
        ro = objects.get("Rollout", target.namespace, target.name)
        if ro is None:
            return missing(target)
        ns, selector = target.namespace, dig(ro, "spec", "selector")
        status = dig(ro, "status", default={})
        out = Assessment(reasons=status_reasons(ro))
        current, stable = status.get("currentPodHash"), status.get("stableRS")
        promoted = bool(stable) and stable == current
        blue_green = dig(ro, "spec", "strategy", "blueGreen") is not None
        out.observed = {
            "generation": dig(ro, "metadata", "generation"),
            "observedGeneration": status.get("observedGeneration"),
            "phase": status.get("phase"),
            "step": status.get("currentStepIndex"),
            "weights": dig(status, "canary", "weights"),
            "stableRS": stable,
            "currentPodHash": current,
            "paused": bool(status.get("pauseConditions")) or dig(ro, "spec", "paused") is True,
        }
        rss = owned(objects.list("ReplicaSet", ns), ro)
        role_of = roles(ro, rss)
        template_role = Role.CURRENT if promoted else Role.PREVIEW if blue_green else Role.CANARY
        source = _template_source(objects, ro, ns, out)
        if source is not None:
            out.units.append(template_unit(source, template_role))
        by_uid = {uid(rs): rs for rs in rss}
        by_hash = {h: rs for rs in rss if (h := _hash(rs))}
        for rs in rss:
            role = role_of.get(str(dig(rs, "metadata", "name")))
            if role is not None and (role is not Role.CURRENT or source is None):
                out.units.append(template_unit(rs, role))
        dep_rss = owned(objects.list("ReplicaSet", ns), source) if source is not None and source is not ro else []
        referenced = {uid(rs) for rs in dep_rss}
        out.units.extend(template_unit(rs, Role.OLD) for rs in dep_rss if scaled_up(rs))
        seen: set[str] = set()
        mine: list[Obj] = []
        for pod in objects.list("Pod", ns):
            owner = by_uid.get(controller_uid(pod))
            hashed = by_hash.get(str(dig(pod, "metadata", "labels", ARGO_HASH, default="")))
            selected = selector is not None and matches(selector, labels(pod))
            if controller_uid(pod) in referenced and counts(pod):
                out.units.append(pod_unit(pod, Role.OLD))  # the workloadRef Deployment's own pods
                continue
            if owner is None and hashed is None and not selected:
                continue
            if not counts(pod) or ref(pod) in seen:
                continue
            seen.add(ref(pod))
            if owner is not None:
                mine.append(pod)
                out.units.append(pod_unit(pod, role_of.get(str(dig(owner, "metadata", "name")), Role.OLD)))
            elif hashed is not None:  # an Experiment / AnalysisRun pod built from one of our templates
                out.units.append(pod_unit(pod, role_of.get(str(dig(hashed, "metadata", "name")), Role.OLD)))
            elif controller_uid(pod) is None or _owner_kind(pod) == "ReplicaSet":
                out.units.append(pod_unit(pod, Role.OLD))
        for owner_obj in (ro, *rss):
            owned_pods = mine if owner_obj is ro else [p for p in mine if controller_uid(p) == uid(owner_obj)]
            gap = unseen(owner_obj, owned_pods)
            if gap is not None:
                out.reasons.append(gap)
        out.mirror = argo_mirrors(ro)
        out.complete = promoted and status.get("phase") == "Healthy"
        if not out.complete:
            parts = [f"phase {status.get('phase')}"]
            if not promoted:
                parts.append(f"stableRS {stable} is not currentPodHash {current}")
            if status.get("currentStepIndex") is not None:
                parts.append(f"step {status.get('currentStepIndex')}")
            if status.get("message"):
                parts.append(str(status.get("message")))
            out.progress = ", ".join(parts)
        return out


def _template_source(objects: ObjectSet, ro: Obj, ns: str, out: Assessment) -> Obj | None:
    """The object holding the template Argo converges to: the Rollout, or its workloadRef Deployment."""
    if dig(ro, "spec", "template") is not None:
        return ro
    ref_name = dig(ro, "spec", "workloadRef", "name")
    if not ref_name:
        return None
    dep = objects.get("Deployment", ns, str(ref_name))
    if dep is None:
        what = f"Deployment {ns}/{ref_name}"
        out.reasons.extend(missing(Target("Deployment", str(ref_name), ns), what).reasons)
    return dep


def _owner_kind(pod: Mapping[str, Any]) -> str | None:
    for owner in dig(pod, "metadata", "ownerReferences", default=[]) or []:
        if isinstance(owner, Mapping) and owner.get("controller") is True:
            return str(owner.get("kind"))
    return None
