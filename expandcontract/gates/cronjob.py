"""CronJobs whose job template carries the stamp: the template counts (the next run starts it without
passing the gate, unless the CronJob is suspended for good: still counted, fail closed), and so do the
Jobs it owns that still run, each with its own template and pods."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expandcontract.gates.base import Assessment, Reader, Role, Strategy, read_into
from expandcontract.gates.deployment import missing
from expandcontract.gates.job import JOB, finished, job_units
from expandcontract.gates.model import Target
from expandcontract.gates.objects import POD, Kind, Obj, ObjectSet, dig
from expandcontract.gates.pods import owned, template_stamp, template_unit

CRONJOB = Kind("CronJob", "batch", "v1", "cronjobs")


class CronJobs(Strategy):
    name = "cronjob"
    api = CRONJOB
    reads = (JOB, POD)

    def collect(self, reader: Reader, target: Target, options: Mapping[str, Any]) -> ObjectSet:
        cron = reader.get(self.kind, target.namespace, target.name)
        objs = ObjectSet.of([cron])
        if read_into(objs, lambda: reader.list("Job", target.namespace)):
            running = [j for j in owned(objs.list("Job", target.namespace), cron) if not finished(j)]
            for job in running:
                read_into(objs, lambda job=job: reader.list("Pod", target.namespace, dig(job, "spec", "selector")))  # type: ignore[misc]
        return objs

    def assess(self, objects: ObjectSet, target: Target, options: Mapping[str, Any]) -> Assessment:
        cron = objects.get(self.kind, target.namespace, target.name)
        if cron is None:
            return missing(target)
        out = Assessment(complete=True)
        out.units.append(template_unit(cron, Role.CURRENT))
        jobs = owned(objects.list("Job", target.namespace), cron)
        for job in jobs:
            job_units(objects, job, target.namespace, out)
        out.observed = {
            "phase": "Suspended" if dig(cron, "spec", "suspend") is True else "Scheduled",
            "activeJobs": sum(1 for j in jobs if not finished(j)),
        }
        return out

    def selected(self, obj: Obj) -> bool:
        return template_stamp(obj) is not None
