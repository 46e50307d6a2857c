"""Flagger canaries (flagger.app/v1beta1 Canary): `<name>` is the canary Deployment, `<name>-primary` serves.

Done only when the Canary is Succeeded (or Initialized: the steady state between the first promotion and
the next revision), `lastPromotedSpec == lastAppliedSpec`, the primary Deployment is
strongly complete and the canary Deployment is back at 0. While Promoting or Finalising both versions
run; Failed is terminal for migrate and contract. The canary Deployment's template always counts: it is
the version Flagger starts next, and its pods run real traffic during the analysis.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expandcontract.gates.base import Assessment, Reader, Role, Strategy, Unit, add_owned, read_into
from expandcontract.gates.deployment import assess_deployment, missing
from expandcontract.gates.mirror import flagger_mirrors
from expandcontract.gates.model import Reason, Severity, Target
from expandcontract.gates.objects import DEPLOYMENT, POD, REPLICASET, Kind, Obj, ObjectSet, dig, generation, ref
from expandcontract.gates.pods import replicas

CANARY = Kind("Canary", "flagger.app", "v1beta1", "canaries")
STEADY = frozenset({"Succeeded", "Initialized"})  # Initialized: promoted once, no new revision since

PHASES = frozenset(
    {
        "Initializing",
        "Initialized",
        "Waiting",
        "Progressing",
        "WaitingPromotion",
        "Promoting",
        "Finalising",
        "Succeeded",
        "Failed",
        "Terminating",
        "Terminated",
    }
)


def target_names(canary: Mapping[str, Any], fallback: str) -> tuple[str, str]:
    name = str(dig(canary, "spec", "targetRef", "name", default=fallback))
    return name, f"{name}-primary"


class Flagger(Strategy):
    name = "flagger"
    api = CANARY
    reads = (DEPLOYMENT, REPLICASET, POD)

    def collect(self, reader: Reader, target: Target, options: Mapping[str, Any]) -> ObjectSet:
        canary = reader.get("Canary", target.namespace, target.name)
        objs = ObjectSet.of([canary])
        for dep_name in target_names(canary, target.name):
            if read_into(objs, lambda dep_name=dep_name: reader.get("Deployment", target.namespace, dep_name)):  # type: ignore[misc]
                dep = objs.get("Deployment", target.namespace, dep_name)
                if dep is not None:
                    add_owned(reader, objs, dep, target.namespace)
        return objs

    def incoming(self, reader: Reader, target: Target) -> Obj | None:
        canary = reader.get("Canary", target.namespace, target.name)
        return reader.get("Deployment", target.namespace, target_names(canary, target.name)[0])

    def covers(self, obj: Obj) -> tuple[tuple[str, str], ...]:
        return tuple(("Deployment", n) for n in target_names(obj, str(dig(obj, "metadata", "name"))))

    def assess(self, objects: ObjectSet, target: Target, options: Mapping[str, Any]) -> Assessment:
        canary = objects.get("Canary", target.namespace, target.name)
        if canary is None:
            return missing(target)
        what = ref(canary)
        canary_name, primary_name = target_names(canary, target.name)
        status = dig(canary, "status", default={})
        phase = status.get("phase")
        out = Assessment()
        out.observed = {
            "generation": dig(canary, "metadata", "generation"),
            "observedGeneration": status.get("observedGeneration"),
            "phase": phase,
            "step": status.get("iterations"),
            "weights": {"canary": status.get("canaryWeight", 0)},
            "lastAppliedSpec": status.get("lastAppliedSpec"),
            "lastPromotedSpec": status.get("lastPromotedSpec"),
        }
        observed = status.get("observedGeneration")
        if observed is not None and str(observed) != generation(canary):
            out.reasons.append(
                Reason(
                    "STATUS_NOT_OBSERVED",
                    f"{what}: generation {generation(canary)} not yet observed by Flagger; retry (add `--wait 5m`)",
                    (what,),
                    Severity.UNTRUSTED,
                )
            )
        if phase not in PHASES:
            out.reasons.append(
                Reason(
                    "UNKNOWN_VALUE",
                    f"{what}: status.phase {phase!r} is not a Flagger phase this gate knows; check the Flagger version",
                    (what,),
                    Severity.UNKNOWN,
                )
            )
        if phase == "Failed":
            out.reasons.append(
                Reason(
                    "CANARY_FAILED",
                    f"{what} failed its analysis and was rolled back; fix the release and push a new revision",
                    (what,),
                    Severity.DENY,
                )
            )
        primary = objects.get("Deployment", target.namespace, primary_name)
        canary_dep = objects.get("Deployment", target.namespace, canary_name)
        if primary is None or canary_dep is None:
            gone = f"Deployment {target.namespace}/{primary_name if primary is None else canary_name}"
            return Assessment(reasons=out.reasons + missing(target, gone).reasons, observed=out.observed)
        main = assess_deployment(objects, primary)
        out.units += main.units
        out.reasons += main.reasons
        side = assess_deployment(objects, canary_dep, current_role=Role.CANARY, old_role=Role.CANARY)
        out.units += [
            Unit(u.ref, Role.CANARY if u.role is not Role.TERMINATING else u.role, u.stamp, u.is_pod)
            for u in side.units
        ]
        out.reasons += [r for r in side.reasons if r.severity in (Severity.UNTRUSTED, Severity.UNKNOWN)]
        canary_pods = [u for u in side.units if u.is_pod]
        problems = []
        if phase not in STEADY:
            problems.append(f"Canary phase {phase}")
        if status.get("lastPromotedSpec") != status.get("lastAppliedSpec"):
            problems.append("lastPromotedSpec differs from lastAppliedSpec (a new revision is pending)")
        if not main.complete:
            problems.append(f"primary: {main.progress}")
        if replicas(canary_dep) > 0 or canary_pods:
            problems.append(f"canary Deployment {canary_name} is not back at 0")
        out.complete = not problems
        out.progress = "; ".join(problems)
        out.mirror = flagger_mirrors(canary)
        return out
