"""The small interfaces every strategy and source is written against.

A strategy does two things: `collect` asks a Reader for the objects it needs (I/O, kept trivial), and
`assess` turns those objects into an Assessment (pure): which pods and templates count and in what role,
what the status says (untrusted, denied, unknown, in progress) and the figures to show. The phase rules
that turn an Assessment into a Decision live in one place (`judge.py`), so adding a strategy is one
module plus one registry line.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from expandcontract.gates.model import Reason, Target
from expandcontract.gates.objects import Kind, Obj, ObjectSet
from expandcontract.phases.stamp import PodClass

Classify = Callable[[str | None], tuple[PodClass, str]]


class Role(enum.Enum):
    """Why a pod or template counts; the phase rules pick the reason code from it."""

    CURRENT = "current"  # the template the workload converges to, and its pods
    OLD = "old"  # an older template still scaled up or its pods, mid rollout
    TERMINATING = "terminating"  # a pod with deletionTimestamp that still serves and writes
    CANARY = "canary"  # canary template/pods (Flagger canary Deployment, Argo canary ReplicaSet)
    PREVIEW = "preview"  # Argo blueGreen preview: runs the new code before promotion
    HOT_ROLLBACK = "hot-rollback"  # old ReplicaSet up inside its scale-down delay
    IDLE_COLOUR = "idle-colour"  # blue/green colour not selected, still scaled up
    ROLLBACK_WINDOW = "rollback-window"  # Argo revision inside spec.rollbackWindow


@dataclass(frozen=True)
class Unit:
    """One pod, or one pod template that could start pods without passing our gate."""

    ref: str  # `Pod ns/name` or `ReplicaSet ns/name` (its template)
    role: Role
    stamp: str | None
    is_pod: bool
    untrusted: str | None = None  # why the stamp does not describe the image run (image.py), else None


@dataclass
class Assessment:
    units: list[Unit] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)  # status reasons (untrusted, deny, unknown...)
    complete: bool = False  # strongly complete / fully promoted / Succeeded
    progress: str = ""  # why not complete, in the words of the controller
    observed: dict[str, Any] = field(default_factory=dict)
    mirror: list[str] = field(default_factory=list)  # active mirror routes / flags


class SourceError(Exception):
    """Reading the cluster failed. Always an unknown decision (fail closed)."""

    def __init__(self, code: str, message: str, objects: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.objects = objects


class Reader(Protocol):
    """Read-only access to one cluster (live) or one file (snapshot)."""

    def get(self, kind: str, namespace: str, name: str) -> Obj:
        """The object; SourceError("NOT_FOUND") when missing."""
        ...

    def list(self, kind: str, namespace: str, selector: Mapping[str, Any] | None = None) -> list[Obj]:
        """Every object of `kind` in `namespace` matching the label selector (filtered client-side too)."""
        ...


class Strategy:
    """One rollout strategy: the kind it answers for, what it reads, and how it judges what it read.

    Subclasses set `name`, `api` (the target kind's API coordinates) and `reads` (every other kind
    `collect` reads: RBAC and snapshot hints come from it), and implement `collect` and `assess`.
    The defaults below fit a workload whose own pod template is the one about to start.
    """

    name: str = ""  # rolling | bluegreen | argo | flagger | statefulset | ...
    api: Kind
    reads: tuple[Kind, ...] = ()

    @property
    def kind(self) -> str:
        return self.api.name

    def collect(self, reader: Reader, target: Target, options: Mapping[str, Any]) -> ObjectSet:
        raise NotImplementedError

    def assess(self, objects: ObjectSet, target: Target, options: Mapping[str, Any]) -> Assessment:
        raise NotImplementedError

    def incoming(self, reader: Reader, target: Target) -> Obj | None:
        """The object whose pod template starts next (rollout-start reads its stamp); None: not supported."""
        return reader.get(self.kind, target.namespace, target.name)

    def selected(self, obj: Obj) -> bool:
        """Whether a label selector over workloads picks this object up as a target."""
        return True

    def covers(self, obj: Obj) -> tuple[tuple[str, str], ...]:
        """(kind, name) of other workloads this target already judges (skipped by a selector)."""
        return ()


def read_into(objs: ObjectSet, read: Callable[[], Iterable[Obj] | Obj]) -> bool:
    """Add what `read` returns to `objs`; a SourceError is recorded there instead (an unknown that a
    deny read from the workload's own status still outranks). False when it failed."""
    try:
        got = read()
    except SourceError as exc:
        objs.errors.append((exc.code, exc.message, exc.objects))
        return False
    for obj in [got] if isinstance(got, dict) else got:
        objs.add(obj)
    return True


def add_owned(
    reader: Reader, objs: ObjectSet, workload: Obj, namespace: str, kinds: tuple[str, ...] = ("ReplicaSet", "Pod")
) -> None:
    """Add the objects of `kinds` selected by `workload`'s spec.selector to `objs`."""
    selector = workload.get("spec", {}).get("selector") if isinstance(workload, Mapping) else None
    for kind in kinds:
        read_into(objs, lambda kind=kind: reader.list(kind, namespace, selector))  # type: ignore[misc]


class OwnsPods(Strategy):
    """A workload whose controller owns its pods directly (StatefulSet, DaemonSet, Job): read it and the
    pods its selector matches."""

    def collect(self, reader: Reader, target: Target, options: Mapping[str, Any]) -> ObjectSet:
        workload = reader.get(self.kind, target.namespace, target.name)
        objs = ObjectSet.of([workload])
        add_owned(reader, objs, workload, target.namespace, ("Pod",))
        return objs
