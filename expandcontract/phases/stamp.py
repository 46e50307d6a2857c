"""The schema stamp: which revisions an app image was built with.

`expandcontract heads --stamp` prints `expand=<rev>,migrate=<rev>,contract=<rev>` (`-` for an empty lane)
from the revision files alone; the build puts it in the pod template annotation
`expandcontract.io/schema`. For change X a pod is OLD (its revisions lack X's expand), NEW (has X's
expand, not X's contract: it dual-writes) or FINAL (has X's contract). No stamp, or a stamp naming a
revision this checkout does not know, is UNKNOWN: gates fail closed on it.
"""

from __future__ import annotations

import enum

from expandcontract.phases import LANES
from expandcontract.phases.project import Project

ANNOTATION = "expandcontract.io/schema"
# Optional: the image the stamp was computed for (`heads --stamp --image REF`); a container running another
# image makes the stamp untrusted (gates/image.py). Without it the stamp alone decides.
IMAGE_ANNOTATION = "expandcontract.io/schema-image"
EMPTY = "-"


class PodClass(enum.StrEnum):
    OLD = "OLD"
    NEW = "NEW"
    FINAL = "FINAL"
    UNKNOWN = "UNKNOWN"


def make_stamp(project: Project) -> str:
    parts = []
    for lane in LANES:
        head = project.lane_head(lane)
        parts.append(f"{lane}={head.id if head else EMPTY}")
    return ",".join(parts)


class StampError(ValueError):
    pass


def parse_stamp(stamp: str) -> dict[str, str | None]:
    """`expand=a,migrate=b,contract=-` -> {"expand": "a", "migrate": "b", "contract": None}."""
    result: dict[str, str | None] = {}
    for part in stamp.strip().split(","):
        lane, sep, rev = part.partition("=")
        lane, rev = lane.strip(), rev.strip()
        if not sep or lane not in LANES or not rev or lane in result:
            raise StampError(f"malformed schema stamp {stamp!r}; expected expand=REV,migrate=REV,contract=REV")
        result[lane] = None if rev == EMPTY else rev
    if set(result) != set(LANES):
        raise StampError(f"malformed schema stamp {stamp!r}; it must name all three lanes")
    return result


class Classifier:
    """Classifies stamps for one change against the revision files of this checkout."""

    def __init__(self, project: Project, change: str) -> None:
        self.project = project
        self.change = project.change(change)
        self._cache: dict[str, tuple[PodClass, str]] = {}

    def classify(self, stamp: str | None) -> PodClass:
        return self.explain(stamp)[0]

    def explain(self, stamp: str | None) -> tuple[PodClass, str]:
        """The class and, for UNKNOWN, why."""
        if stamp is None or not stamp.strip():
            return PodClass.UNKNOWN, f"no {ANNOTATION} annotation"
        if stamp not in self._cache:
            self._cache[stamp] = self._explain(stamp)
        return self._cache[stamp]

    def _explain(self, stamp: str) -> tuple[PodClass, str]:
        try:
            heads = parse_stamp(stamp)
        except StampError as exc:
            return PodClass.UNKNOWN, str(exc)
        named = [rev for rev in heads.values() if rev is not None]
        unknown = [rev for rev in named if rev not in self.project.revisions]
        if unknown:
            return PodClass.UNKNOWN, f"stamp names revision {unknown[0]} that this checkout does not know"
        known = self.project.ancestors(named)
        ch = self.change
        if ch.contract is not None and ch.contract.id in known:
            return PodClass.FINAL, "built with the contract"
        if ch.expand is not None and ch.expand.id in known:
            return PodClass.NEW, "built with the expand, not the contract"
        return PodClass.OLD, "built before the expand"
