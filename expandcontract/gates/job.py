"""Jobs whose pod template carries the stamp: batch code writes to the database too.

A Job has no rollout: its template counts while the Job can still start pods (not Complete or Failed),
and every pod it owns counts while it runs. `status.active` (and `status.terminating`, 1.28+) are
cross-checked with the pods seen. A label selector over workloads picks up only Jobs whose template
carries `expandcontract.io/schema` (so the migration Job itself is not a target); a Job named as a
target is judged either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expandcontract.gates.base import Assessment, OwnsPods, Role
from expandcontract.gates.deployment import missing
from expandcontract.gates.model import Target
from expandcontract.gates.objects import POD, Kind, Obj, ObjectSet, condition, count
from expandcontract.gates.pods import controller_uid, counts, owned, pod_unit, template_stamp, template_unit, unseen

JOB = Kind("Job", "batch", "v1", "jobs")


def finished(job: Mapping[str, Any]) -> bool:
    return any((c := condition(job, t)) is not None and str(c.get("status")) == "True" for t in ("Complete", "Failed"))


def job_units(objects: ObjectSet, job: Obj, namespace: str, out: Assessment) -> None:
    """The Job's template (while it can start pods) and its pods, with the count cross-check."""
    if not finished(job):
        out.units.append(template_unit(job, Role.CURRENT))
    pods = [p for p in owned(objects.list("Pod", namespace), job) if counts(p)]
    out.units.extend(pod_unit(p, Role.CURRENT) for p in pods)
    status = {"replicas": count(job, "status", "active"), "terminatingReplicas": count(job, "status", "terminating")}
    gap = unseen({"kind": "Job", "metadata": job.get("metadata"), "status": status}, pods)
    if gap is not None:
        out.reasons.append(gap)


class Jobs(OwnsPods):
    name = "job"
    api = JOB
    reads = (POD,)

    def assess(self, objects: ObjectSet, target: Target, options: Mapping[str, Any]) -> Assessment:
        job = objects.get(self.kind, target.namespace, target.name)
        if job is None:
            return missing(target)
        out = Assessment(complete=True)
        out.observed = {"phase": "Finished" if finished(job) else "Running", "active": count(job, "status", "active")}
        job_units(objects, job, target.namespace, out)
        return out

    def selected(self, obj: Obj) -> bool:
        return template_stamp(obj) is not None and controller_uid(obj) is None  # a CronJob's Job: the CronJob
