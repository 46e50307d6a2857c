"""StatefulSets: pods owned directly, revisions by `controller-revision-hash` (kubectl rollout_status.go).

kubectl calls a StatefulSet done once the spec is observed, `readyReplicas >= spec.replicas` and either
the partition's share is updated or `updateRevision == currentRevision`. A partitioned or OnDelete
rollout leaves pods of the old revision running: each pod is judged by its own stamp anyway, and migrate
also waits for `updateRevision == currentRevision` with every replica updated and ready.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expandcontract.gates.base import Assessment, OwnsPods, Role
from expandcontract.gates.deployment import missing, not_observed, observed
from expandcontract.gates.model import Target
from expandcontract.gates.objects import POD, Kind, ObjectSet, count, dig, labels
from expandcontract.gates.pods import counts, owned, pod_unit, replicas, template_unit, unseen

STATEFULSET = Kind("StatefulSet", "apps", "v1", "statefulsets")
REVISION_LABEL = "controller-revision-hash"


class StatefulSets(OwnsPods):
    name = "statefulset"
    api = STATEFULSET
    reads = (POD,)

    def assess(self, objects: ObjectSet, target: Target, options: Mapping[str, Any]) -> Assessment:
        sts = objects.get(self.kind, target.namespace, target.name)
        if sts is None:
            return missing(target)
        status = dig(sts, "status", default={})
        update, current = status.get("updateRevision"), status.get("currentRevision")
        out = Assessment()
        out.observed = {
            "generation": dig(sts, "metadata", "generation"),
            "observedGeneration": status.get("observedGeneration"),
            "phase": None,
            "updateRevision": update,
            "currentRevision": current,
        }
        if not observed(sts) or not status.get("observedGeneration"):
            out.reasons.append(not_observed(sts))
        out.units.append(template_unit(sts, Role.CURRENT))
        pods = [p for p in owned(objects.list("Pod", target.namespace), sts) if counts(p)]
        for pod in pods:
            is_current = update is not None and labels(pod).get(REVISION_LABEL) == update
            out.units.append(pod_unit(pod, Role.CURRENT if is_current else Role.OLD))
        gap = unseen(sts, pods)
        if gap is not None:
            out.reasons.append(gap)
        want = replicas(sts)
        problems = []
        if count(sts, "status", "updatedReplicas") < want:
            problems.append(f"{count(sts, 'status', 'updatedReplicas')} of {want} pods updated")
        if count(sts, "status", "readyReplicas") < want:
            problems.append(f"{count(sts, 'status', 'readyReplicas')} of {want} pods ready")
        if update != current:
            problems.append(f"updateRevision {update} is not currentRevision {current}")
        if any(u.role is not Role.CURRENT for u in out.units if u.is_pod):
            problems.append("pods of an older revision or terminating pods remain")
        out.complete = not problems
        out.progress = "; ".join(problems)
        out.observed["phase"] = "Complete" if out.complete else "Progressing"
        return out
