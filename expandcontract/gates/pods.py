"""Which pods count, who owns them, and what schema stamp each pod or template carries.

A pod counts while it can still write: Pending, Running and terminating (deletionTimestamp set) pods
all do; Succeeded and Failed pods do not. `kubectl rollout status` ignores terminating pods, but they
still serve in-flight requests. Each pod is classified by its own `expandcontract.io/schema`
annotation (pods keep the annotations of the template they were created from), never by its owner's
current template. Ownership follows controller ownerReferences by uid, as the controllers do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from expandcontract.gates.base import Role, Unit
from expandcontract.gates.image import IMAGE_ANNOTATION, image_problem
from expandcontract.gates.model import Reason, Severity
from expandcontract.gates.objects import Obj, annotations_of, count, dig, labels, ref, uid
from expandcontract.phases.stamp import ANNOTATION

DEPLOYMENT_HASH = "pod-template-hash"
ARGO_HASH = "rollouts-pod-template-hash"
DEPLOYMENT_REVISION = "deployment.kubernetes.io/revision"
ARGO_REVISION = "rollout.argoproj.io/revision"


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    for owner in dig(obj, "metadata", "ownerReferences", default=[]) or []:
        if isinstance(owner, Mapping) and owner.get("controller") is True:
            value = owner.get("uid")
            return str(value) if value else None
    return None


def owned(children: Iterable[Obj], owner: Mapping[str, Any]) -> list[Obj]:
    """Children whose controller ownerReference names `owner` by uid."""
    owner_uid = uid(owner)
    if owner_uid is None:
        return []
    return [c for c in children if controller_uid(c) == owner_uid]


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return bool(dig(pod, "metadata", "deletionTimestamp"))


def counts(pod: Mapping[str, Any]) -> bool:
    """Pending, Running, Unknown and terminating pods count; finished pods do not write."""
    return dig(pod, "status", "phase") not in ("Succeeded", "Failed")


def pod_stamp(pod: Mapping[str, Any]) -> str | None:
    return annotations_of(pod).get(ANNOTATION)


def template_of(owner: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod template of a workload or ReplicaSet (a CronJob's sits inside its jobTemplate)."""
    if owner.get("kind") == "CronJob":
        return dig(owner, "spec", "jobTemplate", "spec", "template", default={})  # type: ignore[no-any-return]
    return dig(owner, "spec", "template", default={})  # type: ignore[no-any-return]


def template_stamp(owner: Mapping[str, Any]) -> str | None:
    """The stamp of a workload's or ReplicaSet's pod template."""
    value = dig(template_of(owner), "metadata", "annotations", ANNOTATION)
    return str(value) if value is not None else None


def template_hash(obj: Mapping[str, Any]) -> str | None:
    lab = labels(obj)
    return lab.get(ARGO_HASH) or lab.get(DEPLOYMENT_HASH)


def revision(obj: Mapping[str, Any]) -> int:
    ann = annotations_of(obj)
    raw = ann.get(ARGO_REVISION) or ann.get(DEPLOYMENT_REVISION) or "0"
    try:
        return int(raw)
    except ValueError:
        return 0


def replicas(obj: Mapping[str, Any]) -> int:
    """spec.replicas; the API server defaults a missing value to 1."""
    value = dig(obj, "spec", "replicas", default=1)
    return value if isinstance(value, int) else 1


def scaled_up(rs: Mapping[str, Any]) -> bool:
    """A ReplicaSet still wants or has pods (cold history is 0 and 0)."""
    status = dig(rs, "status", "replicas", default=0)
    return replicas(rs) > 0 or (isinstance(status, int) and status > 0)


def pod_unit(pod: Obj, role: Role) -> Unit:
    actual = Role.TERMINATING if is_terminating(pod) else role
    untrusted = image_problem(annotations_of(pod).get(IMAGE_ANNOTATION), dig(pod, "spec"), pod)
    return Unit(ref(pod), actual, pod_stamp(pod), is_pod=True, untrusted=untrusted)


def template_unit(owner: Obj, role: Role) -> Unit:
    template = template_of(owner)
    bound = dig(template, "metadata", "annotations", IMAGE_ANNOTATION)
    untrusted = image_problem(None if bound is None else str(bound), dig(template, "spec"))
    return Unit(f"{ref(owner)} (template)", role, template_stamp(owner), is_pod=False, untrusted=untrusted)


def pod_units(pods: Iterable[Obj], role: Role) -> list[Unit]:
    return [pod_unit(p, role) for p in pods if counts(p)]


def unseen(owner: Mapping[str, Any], pods: Iterable[Obj], *, field: str = "replicas") -> Reason | None:
    """Fewer pods than the controller reports: the source missed some (a partial snapshot, a list that
    lost pods), so what it did not see could be OLD. `status.<field>` counts active pods and
    `status.terminatingReplicas` (Kubernetes 1.33+) the terminating ones; kubectl omits zeroes."""
    active = terminating = 0
    for pod in pods:
        if not counts(pod):
            continue
        if is_terminating(pod):
            terminating += 1
        else:
            active += 1
    want_active, want_terminating = count(owner, "status", field), count(owner, "status", "terminatingReplicas")
    if active >= want_active and terminating >= want_terminating:
        return None
    what = ref(owner)
    return Reason(
        "PODS_UNSEEN",
        f"{what} reports {want_active} pods ({want_terminating} terminating) but the gate sees {active} "
        f"({terminating} terminating); the rest could run any code: include every pod in the snapshot "
        "(`kubectl get pods -n NS -o yaml`), or retry once the controller has caught up",
        (what,),
        Severity.UNKNOWN,
    )
