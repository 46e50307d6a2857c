"""DaemonSets: one pod per node, owned directly; a pod is current when its `pod-template-generation`
label is the DaemonSet's generation (kubectl rollout_status.go: updatedNumberScheduled and
numberAvailable reach desiredNumberScheduled once the spec is observed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expandcontract.gates.base import Assessment, OwnsPods, Role
from expandcontract.gates.deployment import missing, not_observed, observed
from expandcontract.gates.model import Target
from expandcontract.gates.objects import POD, Kind, ObjectSet, count, dig, labels
from expandcontract.gates.pods import counts, owned, pod_unit, template_unit, unseen

DAEMONSET = Kind("DaemonSet", "apps", "v1", "daemonsets")
GENERATION_LABEL = "pod-template-generation"


class DaemonSets(OwnsPods):
    name = "daemonset"
    api = DAEMONSET
    reads = (POD,)

    def assess(self, objects: ObjectSet, target: Target, options: Mapping[str, Any]) -> Assessment:
        ds = objects.get(self.kind, target.namespace, target.name)
        if ds is None:
            return missing(target)
        gen = str(dig(ds, "metadata", "generation", default=""))
        out = Assessment()
        out.observed = {
            "generation": dig(ds, "metadata", "generation"),
            "observedGeneration": dig(ds, "status", "observedGeneration"),
            "phase": None,
        }
        if not observed(ds):
            out.reasons.append(not_observed(ds))
        out.units.append(template_unit(ds, Role.CURRENT))
        pods = [p for p in owned(objects.list("Pod", target.namespace), ds) if counts(p)]
        for pod in pods:
            out.units.append(pod_unit(pod, Role.CURRENT if labels(pod).get(GENERATION_LABEL) == gen else Role.OLD))
        # every scheduled daemon pod, misscheduled ones included, is a pod the source must see
        scheduled = count(ds, "status", "currentNumberScheduled") + count(ds, "status", "numberMisscheduled")
        gap = unseen({"kind": "DaemonSet", "metadata": ds.get("metadata"), "status": {"replicas": scheduled}}, pods)
        if gap is not None:
            out.reasons.append(gap)
        desired = count(ds, "status", "desiredNumberScheduled")
        problems = []
        if count(ds, "status", "updatedNumberScheduled") < desired:
            problems.append(f"{count(ds, 'status', 'updatedNumberScheduled')} of {desired} pods updated")
        if count(ds, "status", "numberAvailable") < desired:
            problems.append(f"{count(ds, 'status', 'numberAvailable')} of {desired} pods available")
        if any(u.role is not Role.CURRENT for u in out.units if u.is_pod):
            problems.append("pods of an older template or terminating pods remain")
        out.complete = not problems
        out.progress = "; ".join(problems)
        out.observed["phase"] = "Complete" if out.complete else "Progressing"
        return out
