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

from expandcontract.gates.base import Assessment, Reader, Role, add_owned
from expandcontract.gates.deployment import PROGRESSING_REASONS, missing
from expandcontract.gates.mirror import argo_mirrors
from expandcontract.gates.model import Reason, Severity, Target
from expandcontract.gates.objects import Obj, ObjectSet, annotations_of, condition, dig, generation, ref, uid
from expandcontract.gates.pods import (
    ARGO_HASH,
    controller_uid,
    counts,
    owned,
    pod_unit,
    revision,
    scaled_up,
    template_unit,
)

PHASES = frozenset({"Healthy", "Progressing", "Paused", "Degraded"})
REASONS = PROGRESSING_REASONS | {
    "RolloutPaused",
    "RolloutResumed",
    "RolloutAborted",
    "RolloutRetry",
    "RolloutCompleted",
}
SCALE_DOWN = ("scale-down-deadline", "argo-rollouts.argoproj.io/scale-down-deadline")


def _hash(rs: Mapping[str, Any]) -> str | None:
    value = dig(rs, "metadata", "labels", ARGO_HASH)
    return str(value) if value else None


def status_reasons(ro: Mapping[str, Any]) -> list[Reason]:
    what = ref(ro)
    out: list[Reason] = []
    gen, obs = generation(ro), dig(ro, "status", "observedGeneration")
    if obs is None or str(obs) != gen:
        out.append(
            Reason(
                "STATUS_NOT_OBSERVED",
                f"{what}: generation {gen} not yet observed by the Argo Rollouts controller (observedGeneration "
                f"{obs}); check the controller is running, retry (add `--wait 5m`)",
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


class Argo:
    name = "argo"
    kind = "Rollout"

    def collect(self, reader: Reader, target: Target, options: Mapping[str, Any]) -> ObjectSet:
        ro = reader.get("Rollout", target.namespace, target.name)
        objs = ObjectSet.of([ro])
        add_owned(reader, objs, ro, target.namespace)
        return objs

    def assess(self, objects: ObjectSet, target: Target, options: Mapping[str, Any]) -> Assessment:
        ro = objects.get("Rollout", target.namespace, target.name)
        if ro is None:
            return missing(target)
        ns, selector = target.namespace, dig(ro, "spec", "selector")
        status = dig(ro, "status", default={})
        out = Assessment(reasons=status_reasons(ro))
        current, stable = status.get("currentPodHash"), status.get("stableRS")
        promoted = bool(stable) and stable == current
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
        rss = owned(objects.list("ReplicaSet", ns, selector), ro)
        role_of = roles(ro, rss)
        if dig(ro, "spec", "template") is not None:
            out.units.append(
                template_unit(
                    ro,
                    Role.CURRENT
                    if promoted
                    else Role.PREVIEW
                    if dig(ro, "spec", "strategy", "blueGreen") is not None
                    else Role.CANARY,
                )
            )
        by_uid = {uid(rs): rs for rs in rss}
        for rs in rss:
            role = role_of.get(str(dig(rs, "metadata", "name")))
            if role is not None and (role is not Role.CURRENT or dig(ro, "spec", "template") is None):
                out.units.append(template_unit(rs, role))
        for pod in objects.list("Pod", ns, selector):
            if not counts(pod):
                continue
            owner = by_uid.get(controller_uid(pod))
            if owner is None:
                if controller_uid(pod) is None or _owner_kind(pod) == "ReplicaSet":
                    out.units.append(pod_unit(pod, Role.OLD))
                continue
            out.units.append(pod_unit(pod, role_of.get(str(dig(owner, "metadata", "name")), Role.OLD)))
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


def _owner_kind(pod: Mapping[str, Any]) -> str | None:
    for owner in dig(pod, "metadata", "ownerReferences", default=[]) or []:
        if isinstance(owner, Mapping) and owner.get("controller") is True:
            return str(owner.get("kind"))
    return None
