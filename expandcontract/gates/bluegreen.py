"""Blue/green by Service selector: who is selected, who gets traffic, and the idle colour.

The Service selector picks the active colour; EndpointSlices say which pods actually receive traffic.
The idle colour is an instant rollback target while it is scaled up (flipping the selector back runs no
hook), so migrate needs it NEW or later (or at 0 with no pods) and contract needs it at 0 replicas with
no pods: contracting while it is kept warm would break the instant rollback blue/green exists for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expandcontract.gates.base import Assessment, Reader, Role, Strategy, Unit, read_into
from expandcontract.gates.deployment import assess_deployment, missing
from expandcontract.gates.model import Reason, Severity, Target
from expandcontract.gates.objects import DEPLOYMENT, POD, REPLICASET, Kind, Obj, ObjectSet, dig, matches, name_of, ref
from expandcontract.gates.pods import counts, owned, pod_unit, replicas

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SERVICE = Kind("Service", "", "v1", "services")
ENDPOINTSLICE = Kind("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices")


def _template_labels(dep: Mapping[str, Any]) -> dict[str, str]:
    return dict(dig(dep, "spec", "template", "metadata", "labels", default={}))


def colour_key(selector: Mapping[str, str], deployments: list[Obj]) -> str | None:
    """The selector key whose values differ between Deployments that agree on every other key."""
    found = []
    for key in selector:
        rest = {k: v for k, v in selector.items() if k != key}
        values = {
            _template_labels(d).get(key)
            for d in deployments
            if key in _template_labels(d) and all(_template_labels(d).get(k) == v for k, v in rest.items())
        }
        if len(values) >= 2:
            found.append(key)
    return found[0] if len(found) == 1 else None


def colours(selector: Mapping[str, str], deployments: list[Obj], key: str | None, names: tuple[str, ...]) -> list[Obj]:
    if names:
        return [d for d in deployments if name_of(d) in names]
    if key is None:
        return []
    rest = {k: v for k, v in selector.items() if k != key}
    return [
        d
        for d in deployments
        if key in _template_labels(d) and all(_template_labels(d).get(k) == v for k, v in rest.items())
    ]


class BlueGreen(Strategy):
    name = "bluegreen"
    api = SERVICE
    reads = (ENDPOINTSLICE, DEPLOYMENT, REPLICASET, POD)

    def collect(self, reader: Reader, target: Target, options: Mapping[str, Any]) -> ObjectSet:
        svc = reader.get("Service", target.namespace, target.name)
        objs = ObjectSet.of([svc])
        read_into(objs, lambda: reader.list("EndpointSlice", target.namespace, {SERVICE_NAME_LABEL: target.name}))
        for kind in ("Deployment", "ReplicaSet", "Pod"):
            read_into(objs, lambda kind=kind: reader.list(kind, target.namespace))  # type: ignore[misc]
        return objs

    def incoming(self, reader: Reader, target: Target) -> Obj | None:
        return None  # the next colour is whichever Deployment you deploy to: gate that Deployment

    def assess(self, objects: ObjectSet, target: Target, options: Mapping[str, Any]) -> Assessment:
        svc = objects.get("Service", target.namespace, target.name)
        if svc is None:
            return missing(target)
        what = ref(svc)
        selector: dict[str, str] = dict(dig(svc, "spec", "selector", default={}))
        if not selector:
            return Assessment(
                reasons=[
                    Reason(
                        "NO_SELECTOR",
                        f"{what} has no selector, so the gate cannot tell which pods it serves; give it a "
                        "selector, or point the gate at the Deployment",
                        (what,),
                        Severity.UNKNOWN,
                    )
                ]
            )
        deployments = objects.list("Deployment", target.namespace)
        key = options.get("colour_key") or colour_key(selector, deployments)
        names = tuple(options.get("colours") or ())
        candidates = colours(selector, deployments, key, names)
        active = [d for d in candidates if matches(selector, _template_labels(d))]
        idle = [d for d in candidates if not matches(selector, _template_labels(d))]
        out = Assessment()
        out.observed = {
            "phase": None,
            "colourKey": key,
            "active": [name_of(d) for d in active],
            "idle": [name_of(d) for d in idle],
        }
        if not active:
            out.reasons.append(
                Reason(
                    "COLOURS_UNKNOWN",
                    f"{what}: no Deployment's pod template matches the selector {selector}; set colour_key "
                    "or colours in [tool.expandcontract.rollout]",
                    (what,),
                    Severity.UNKNOWN,
                )
            )
        out.complete = bool(active)
        progress: list[str] = []
        for dep in active:
            part = assess_deployment(objects, dep)
            out.units += part.units
            out.reasons += part.reasons
            out.complete = out.complete and part.complete
            if part.progress:
                progress.append(f"{ref(dep)}: {part.progress}")
            out.observed.setdefault("generation", part.observed.get("generation"))
            out.observed.setdefault("observedGeneration", part.observed.get("observedGeneration"))
            out.observed["phase"] = part.observed.get("phase")
        for dep in idle:
            rss = owned(objects.list("ReplicaSet", target.namespace), dep)
            pods = [p for rs in rss for p in owned(objects.list("Pod", target.namespace), rs) if counts(p)]
            if replicas(dep) > 0 or pods:
                part = assess_deployment(objects, dep, current_role=Role.IDLE_COLOUR, old_role=Role.IDLE_COLOUR)
                out.units += [Unit(u.ref, Role.IDLE_COLOUR, u.stamp, u.is_pod) for u in part.units]
                out.reasons += [r for r in part.reasons if r.severity is Severity.UNTRUSTED]
        out.progress = "; ".join(progress)
        self._endpoints(objects, target, what, out)
        return out

    def _endpoints(self, objects: ObjectSet, target: Target, what: str, out: Assessment) -> None:
        """Pods that get traffic count even when no colour Deployment owns them."""
        seen = {u.ref for u in out.units}
        slices = objects.list("EndpointSlice", target.namespace, {SERVICE_NAME_LABEL: target.name})
        for sl in slices:
            for ep in sl.get("endpoints") or []:
                tref = ep.get("targetRef") or {}
                if tref.get("kind") != "Pod" or not tref.get("name"):
                    out.reasons.append(
                        Reason(
                            "ENDPOINT_WITHOUT_POD",
                            f"{ref(sl)} has an endpoint {ep.get('addresses')} that is not a Pod; the gate "
                            "cannot classify it; point the gate at the Deployments instead",
                            (ref(sl),),
                            Severity.UNKNOWN,
                        )
                    )
                    continue
                pod = objects.get("Pod", target.namespace, str(tref["name"]))
                pod_ref = f"Pod {target.namespace}/{tref['name']}"
                if pod is None:
                    out.reasons.append(
                        Reason(
                            "NOT_FOUND",
                            f"{pod_ref} gets traffic from {what} but could not be read; retry",
                            (pod_ref,),
                            Severity.UNKNOWN,
                        )
                    )
                elif pod_ref not in seen and counts(pod):
                    out.units.append(pod_unit(pod, Role.CURRENT))
                    seen.add(pod_ref)
        out.observed["endpoints"] = sum(len(sl.get("endpoints") or []) for sl in slices)
