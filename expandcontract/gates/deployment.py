"""Rolling Deployments: kubectl's completion check, the stronger one migrate needs, and the pods.

`kubectl rollout status` calls a rollout done when the updated replicas are available, even while old
pods are still terminating and old ReplicaSets still exist. Before a migrate we also want the
Progressing reason NewReplicaSetAvailable, the Deployment unpaused, every other ReplicaSet at 0 (spec and
status) and no pod of another template hash, terminating ones included (gates.md "Rolling Deployment").
The pod and template checks themselves are done for every phase through the units.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expandcontract.gates.base import Assessment, Reader, Role, Strategy, add_owned
from expandcontract.gates.model import Reason, Severity, Target
from expandcontract.gates.objects import (
    DEPLOYMENT,
    POD,
    REPLICASET,
    Obj,
    ObjectSet,
    condition,
    count,
    dig,
    labels,
    name_of,
    ref,
    uid,
)
from expandcontract.gates.pods import (
    DEPLOYMENT_HASH,
    controller_uid,
    counts,
    owned,
    pod_unit,
    revision,
    scaled_up,
    template_unit,
    unseen,
)

PROGRESSING_REASONS = frozenset(
    {
        "NewReplicaSetCreated",
        "FoundNewReplicaSet",
        "ReplicaSetUpdated",
        "NewReplicaSetAvailable",
        "DeploymentPaused",
        "DeploymentResumed",
        "ProgressDeadlineExceeded",
    }
)

NOT_OBSERVED, FAILED, PROGRESSING, COMPLETE = "NotObserved", "Failed", "Progressing", "Complete"


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return 0


def observed(obj: Mapping[str, Any]) -> bool:
    """`generation <= status.observedGeneration`, as kubectl counts it (a missing one is 0: not yet)."""
    return _int(dig(obj, "metadata", "generation", default=0)) <= _int(
        dig(obj, "status", "observedGeneration", default=0)
    )


def not_observed(obj: Mapping[str, Any]) -> Reason:
    """The controller has not seen the latest spec: nothing its status says can be trusted yet."""
    what = ref(obj)
    return Reason(
        "STATUS_NOT_OBSERVED",
        f"{what}: generation {dig(obj, 'metadata', 'generation')} not yet observed by the controller "
        f"(observedGeneration {dig(obj, 'status', 'observedGeneration')}); retry in a few seconds (add `--wait 5m`)",
        (what,),
        Severity.UNTRUSTED,
    )


def kubectl_status(dep: Mapping[str, Any]) -> tuple[str, str]:
    """What `kubectl rollout status --watch=false` says (kubectl 1.32 rollout_status.go), as (state, text)."""
    name = dig(dep, "metadata", "name", default="")
    if not observed(dep):
        return NOT_OBSERVED, "Waiting for deployment spec update to be observed..."
    progressing = condition(dep, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return FAILED, f'deployment "{name}" exceeded its progress deadline'
    spec_replicas = dig(dep, "spec", "replicas")
    updated, total = count(dep, "status", "updatedReplicas"), count(dep, "status", "replicas")
    available = count(dep, "status", "availableReplicas")
    if isinstance(spec_replicas, int) and updated < spec_replicas:
        return PROGRESSING, (
            f'Waiting for deployment "{name}" rollout to finish: {updated} out of {spec_replicas} new '
            "replicas have been updated..."
        )
    if total > updated:
        return PROGRESSING, (
            f'Waiting for deployment "{name}" rollout to finish: {total - updated} old replicas are '
            "pending termination..."
        )
    if available < updated:
        return PROGRESSING, (
            f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated '
            "replicas are available..."
        )
    return COMPLETE, f'deployment "{name}" successfully rolled out'


def current_replicaset(dep: Mapping[str, Any], replicasets: list[Obj]) -> Obj | None:
    """The ReplicaSet of the Deployment's current revision (the controller copies the annotation)."""
    if not replicasets:
        return None
    want = revision(dep)
    same = [rs for rs in replicasets if revision(rs) == want and want > 0]
    return same[0] if same else max(replicasets, key=revision)


def assess_deployment(
    objects: ObjectSet, dep: Obj, *, current_role: Role = Role.CURRENT, old_role: Role = Role.OLD
) -> Assessment:
    """Status reasons, strong completion and units of one Deployment. Pure."""
    out = Assessment()
    what = ref(dep)
    ns = str(dig(dep, "metadata", "namespace", default="default"))
    obs = dig(dep, "status", "observedGeneration")
    state, text = kubectl_status(dep)
    out.observed = {
        "generation": dig(dep, "metadata", "generation"),
        "observedGeneration": obs,
        "phase": state,
        "replicas": dig(dep, "spec", "replicas", default=1),
        "updatedReplicas": count(dep, "status", "updatedReplicas"),
        "availableReplicas": count(dep, "status", "availableReplicas"),
    }
    if not observed(dep):
        out.reasons.append(not_observed(dep))
    progressing = condition(dep, "Progressing")
    reason = progressing.get("reason") if progressing else None
    if reason is not None and reason not in PROGRESSING_REASONS:
        out.reasons.append(
            Reason(
                "UNKNOWN_VALUE",
                f"{what}: Progressing condition reason {reason!r} is not one this gate knows; check the "
                "Deployment with `kubectl describe` and report it",
                (what,),
                Severity.UNKNOWN,
            )
        )
    if state == FAILED:
        out.reasons.append(
            Reason(
                "PROGRESS_DEADLINE_EXCEEDED",
                f"{what} exceeded its progress deadline: the rollout failed; fix or roll back the Deployment "
                "(`kubectl rollout undo`), then re-run the gate",
                (what,),
                Severity.DENY,
            )
        )

    selector = dig(dep, "spec", "selector")
    rss = owned(objects.list("ReplicaSet", ns, selector), dep)
    current = current_replicaset(dep, rss)
    current_hash = labels(current).get(DEPLOYMENT_HASH) if current else None
    rs_uids = {uid(rs): rs for rs in rss}
    out.units.append(template_unit(dep, current_role))
    others_down = True
    for rs in rss:
        if rs is current:
            continue
        if scaled_up(rs):
            others_down = False
            out.units.append(template_unit(rs, old_role))
    stray_pods = False
    mine: list[Obj] = []
    for pod in objects.list("Pod", ns, selector):
        if not counts(pod):
            continue
        owner = controller_uid(pod)
        if owner is not None and owner not in rs_uids and _owned_by_other_kind(pod):
            continue  # another controller's pod that happens to match: not this Deployment's
        is_current = (current is not None and owner == uid(current)) or (
            owner is None and current_hash is not None and labels(pod).get(DEPLOYMENT_HASH) == current_hash
        )
        if not is_current:
            stray_pods = True
        mine.append(pod)
        out.units.append(pod_unit(pod, current_role if is_current else old_role))
    for owner_obj in (dep, *rss):
        owned_pods = mine if owner_obj is dep else [p for p in mine if controller_uid(p) == uid(owner_obj)]
        missing_pods = unseen(owner_obj, owned_pods)
        if missing_pods is not None:
            out.reasons.append(missing_pods)

    terminating = count(dep, "status", "terminatingReplicas")
    paused = dig(dep, "spec", "paused") is True
    problems = []
    if state != COMPLETE:
        problems.append(text)
    if progressing is not None and reason != "NewReplicaSetAvailable":
        # no Progressing condition at all is how a Deployment with progressDeadlineSeconds = MaxInt32 looks
        problems.append(f"Progressing reason is {reason or 'missing'}, not NewReplicaSetAvailable")
    if paused:
        problems.append("the Deployment is paused (`kubectl rollout resume`)")
        out.observed["phase"] = "Paused"
    if not others_down:
        problems.append("older ReplicaSets are still scaled up")
    if stray_pods:
        problems.append("pods of an older template or terminating pods remain")
    if terminating:
        problems.append(f"{terminating} replicas are terminating")
    out.complete = not problems
    out.progress = "; ".join(problems)
    out.observed["currentReplicaSet"] = name_of(current) if current else None
    return out


def _owned_by_other_kind(pod: Mapping[str, Any]) -> bool:
    for owner in dig(pod, "metadata", "ownerReferences", default=[]) or []:
        if isinstance(owner, Mapping) and owner.get("controller") is True:
            return owner.get("kind") != "ReplicaSet"
    return False


class Rolling(Strategy):
    name = "rolling"
    api = DEPLOYMENT
    reads = (REPLICASET, POD)

    def collect(self, reader: Reader, target: Target, options: Mapping[str, Any]) -> ObjectSet:
        dep = reader.get("Deployment", target.namespace, target.name)
        objs = ObjectSet.of([dep])
        add_owned(reader, objs, dep, target.namespace)
        return objs

    def assess(self, objects: ObjectSet, target: Target, options: Mapping[str, Any]) -> Assessment:
        dep = objects.get("Deployment", target.namespace, target.name)
        if dep is None:
            return missing(target)
        return assess_deployment(objects, dep)


def missing(target: Target, what: str | None = None) -> Assessment:
    """The target (or an object it names) is not there: a 404, so unknown."""
    name = what or str(target)
    return Assessment(
        reasons=[
            Reason(
                "NOT_FOUND",
                f"{name} does not exist (404); check --kind/--name/--namespace or [tool.expandcontract.rollout]",
                (name,),
                Severity.UNKNOWN,
            )
        ]
    )
