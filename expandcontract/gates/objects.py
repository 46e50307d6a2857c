"""Kubernetes objects as plain dicts (the shape `kubectl get -o yaml` prints) and the index over them.

Decisions read objects as dicts, never as the client's typed models: the typed models reject what real
controllers write (Argo's string `observedGeneration`) and are slow for thousands of pods. The index is
what a source hands to a strategy; a strategy only looks things up in it, so a decision is a pure
function of the objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    name: str
    group: str
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("Deployment", "apps", "v1", "deployments"),
        Kind("ReplicaSet", "apps", "v1", "replicasets"),
        Kind("Pod", "", "v1", "pods"),
        Kind("Service", "", "v1", "services"),
        Kind("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices"),
        Kind("Rollout", "argoproj.io", "v1alpha1", "rollouts"),
        Kind("Canary", "flagger.app", "v1beta1", "canaries"),
    )
}


def dig(obj: Mapping[str, Any] | None, *path: str, default: Any = None) -> Any:
    """obj[a][b][c], or default when any step is missing or not a mapping."""
    cur: Any = obj
    for key in path:
        if not isinstance(cur, Mapping) or key not in cur:
            return default
        cur = cur[key]
    return default if cur is None else cur


def count(obj: Mapping[str, Any], *path: str) -> int:
    """A status integer; kubectl omits zero values, so missing means 0."""
    value = dig(obj, *path, default=0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def name_of(obj: Mapping[str, Any]) -> str:
    return str(dig(obj, "metadata", "name", default=""))


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str(dig(obj, "metadata", "namespace", default="default"))


def ref(obj: Mapping[str, Any]) -> str:
    """`Pod default/web-7d9-abc`: how messages and JSON name an object."""
    return f"{obj.get('kind', '?')} {namespace_of(obj)}/{name_of(obj)}"


def labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(dig(obj, "metadata", "labels", default={}))


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(dig(obj, "metadata", "annotations", default={}))


def uid(obj: Mapping[str, Any]) -> str | None:
    value = dig(obj, "metadata", "uid")
    return str(value) if value else None


def generation(obj: Mapping[str, Any]) -> str | None:
    value = dig(obj, "metadata", "generation")
    return None if value is None else str(value)


def condition(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for cond in dig(obj, "status", "conditions", default=[]) or []:
        if isinstance(cond, Mapping) and cond.get("type") == type_:
            return cond
    return None


def matches(selector: Mapping[str, Any] | None, labels_: Mapping[str, str]) -> bool:
    """A LabelSelector ({matchLabels, matchExpressions}) or a plain map, as the API server applies it."""
    if not selector:
        return False  # an empty selector selects nothing here: we never guess
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        return all(labels_.get(k) == v for k, v in selector.items())
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels_.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels_
        if op == "In" and not (present and labels_[key] in values):
            return False
        if op == "NotIn" and present and labels_[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


@dataclass
class ObjectSet:
    """Objects by kind, namespace and name. Lists are whatever the source fetched."""

    by_kind: dict[str, dict[tuple[str, str], Obj]] = field(default_factory=dict)

    @classmethod
    def of(cls, objects: Iterable[Obj]) -> ObjectSet:
        result = cls()
        for obj in objects:
            result.add(obj)
        return result

    def add(self, obj: Obj) -> None:
        kind = str(obj.get("kind", ""))
        self.by_kind.setdefault(kind, {})[(namespace_of(obj), name_of(obj))] = obj

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.by_kind.get(kind, {}).get((namespace, name))

    def list(self, kind: str, namespace: str, selector: Mapping[str, Any] | None = None) -> list[Obj]:
        items = [o for (ns, _), o in self.by_kind.get(kind, {}).items() if ns == namespace]
        if selector is not None:
            items = [o for o in items if matches(selector, labels(o))]
        return sorted(items, key=name_of)

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_kind.values())
