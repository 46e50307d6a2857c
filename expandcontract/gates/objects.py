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

    @property
    def custom(self) -> bool:
        """Served by a CRD (read through the custom-objects API), not a built-in group."""
        return self.group not in ("", "apps", "batch", "discovery.k8s.io")


# Kinds several strategies read; each strategy names its own target kind (registry.KINDS has them all).
POD = Kind("Pod", "", "v1", "pods")
REPLICASET = Kind("ReplicaSet", "apps", "v1", "replicasets")
DEPLOYMENT = Kind("Deployment", "apps", "v1", "deployments")


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


_EXPR = {"in": "In", "notin": "NotIn"}


def parse_selector(text: str) -> dict[str, Any]:
    """A label selector as `kubectl -l` takes it (`a=b,c!=d,e in (x,y),f notin (z),g,!h`) -> LabelSelector.
    ValueError for anything else."""
    match_labels: dict[str, str] = {}
    exprs: list[dict[str, Any]] = []
    rest = text.strip()
    if not rest:
        raise ValueError("an empty label selector selects everything; name at least one label")
    while rest:
        head, sep, tail = rest.partition(",")
        if "(" in head and ")" not in head:  # `in (a,b)`: the comma belongs to the set
            close = rest.find(")")
            if close < 0:
                raise ValueError(f"unbalanced parenthesis in selector {text!r}")
            head, rest = rest[: close + 1], rest[close + 1 :].lstrip().removeprefix(",")
        else:
            rest = tail if sep else ""
        term = head.strip()
        words = term.split(None, 1)
        if len(words) == 2 and words[1].split("(", 1)[0].strip() in _EXPR:
            op_word, _, values = words[1].partition("(")
            vals = [v.strip() for v in values.rstrip(")").split(",") if v.strip()]
            if not values.endswith(")") or not vals:
                raise ValueError(f"selector term {term!r} needs a set like `key in (a,b)`")
            exprs.append({"key": words[0], "operator": _EXPR[op_word.strip()], "values": vals})
        elif "!=" in term:
            key, value = (x.strip() for x in term.split("!=", 1))
            exprs.append({"key": key, "operator": "NotIn", "values": [value]})
        elif "=" in term:
            key, value = (x.strip() for x in term.replace("==", "=").split("=", 1))
            match_labels[key] = value
        elif term.startswith("!"):
            exprs.append({"key": term[1:].strip(), "operator": "DoesNotExist"})
        else:
            exprs.append({"key": term, "operator": "Exists"})
        key = exprs[-1]["key"] if exprs and "=" not in term else next(reversed(match_labels), "")
        if not key or any(c.isspace() for c in key):
            raise ValueError(f"selector term {term!r} has no valid label key")
    out: dict[str, Any] = {}
    if match_labels:
        out["matchLabels"] = match_labels
    if exprs:
        out["matchExpressions"] = exprs
    return out


@dataclass
class ObjectSet:
    """Objects by kind, namespace and name. Lists are whatever the source fetched."""

    by_kind: dict[str, dict[tuple[str, str], Obj]] = field(default_factory=dict)
    # what could not be read, as (code, message, objects): unknown, unless a deny outranks it
    errors: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)

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
