"""The phase rules of gates.md, applied to what a strategy assessed. One place, every strategy.

Each counted pod or template is classified OLD / NEW / FINAL / UNKNOWN for the change by its stamp;
its role (current, old, terminating, hot rollback, idle colour, rollback window, canary, preview)
picks the reason code. Reasons are grouped by code so a message names every object involved and says
what to do next.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from expandcontract.gates.base import Assessment, Classify, Role, Unit
from expandcontract.gates.model import Decision, Reason, Severity, Target
from expandcontract.phases.stamp import PodClass

SHOWN = 3  # objects named inline in a message; JSON `objects` carries all of them


@dataclass(frozen=True)
class _Rule:
    code: str
    text: str  # "{what}" is replaced by the counted objects
    fix: str


_MIGRATE = {
    Role.CURRENT: _Rule(
        "OLD_WRITERS",
        "{what} built before the expand of {change} (no dual-write)",
        "deploy an image built with `expandcontract heads --stamp` after the expand, then retry",
    ),
    Role.CANARY: _Rule(
        "OLD_WRITERS",
        "canary {what} built before the expand of {change}",
        "deploy an image built after the expand, then retry",
    ),
    Role.PREVIEW: _Rule(
        "OLD_WRITERS",
        "preview {what} built before the expand of {change}",
        "deploy an image built after the expand, then retry",
    ),
    Role.OLD: _Rule(
        "ROLLOUT_IN_PROGRESS",
        "{what} of the previous version still run code built before the expand of {change}",
        "wait for the rollout to finish (add `--wait 15m`)",
    ),
    Role.TERMINATING: _Rule(
        "ROLLOUT_IN_PROGRESS",
        "terminating {what} still run code built before the expand of {change}",
        "wait for them to exit (add `--wait 15m`)",
    ),
    Role.HOT_ROLLBACK: _Rule(
        "HOT_ROLLBACK_TARGET",
        "{what} kept up for rollback (scale-down delay) run code built before the expand of {change}",
        "wait for the scale-down-deadline to pass (add `--wait 15m`)",
    ),
    Role.IDLE_COLOUR: _Rule(
        "HOT_ROLLBACK_TARGET",
        "{what} of the idle colour are still scaled up and built before the expand of {change}",
        "scale the idle colour to 0 or redeploy it with the NEW image, then retry",
    ),
    Role.ROLLBACK_WINDOW: _Rule(
        "HOT_ROLLBACK_TARGET",
        "{what} inside spec.rollbackWindow built before the expand of {change}",
        "roll out newer revisions or lower spec.rollbackWindow.revisions, then retry",
    ),
}

_CONTRACT = {
    Role.CURRENT: _Rule(
        "INCOMPATIBLE_PODS",
        "{what} not built with the contract of {change} still need the old schema",
        "deploy an image built after the contract revision and wait for the rollout (add `--wait 15m`)",
    ),
    Role.OLD: _Rule(
        "INCOMPATIBLE_PODS",
        "{what} of the previous version still need the old schema of {change}",
        "wait for the rollout to finish (add `--wait 15m`)",
    ),
    Role.CANARY: _Rule(
        "INCOMPATIBLE_PODS",
        "canary {what} not built with the contract of {change}",
        "promote or abort the canary with a FINAL image, then retry",
    ),
    Role.PREVIEW: _Rule(
        "INCOMPATIBLE_PODS",
        "preview {what} not built with the contract of {change}",
        "promote or abort the preview, then retry",
    ),
    Role.TERMINATING: _Rule(
        "TERMINATING_PODS",
        "terminating {what} still serve with code that needs the old schema of {change}",
        "wait for them to exit (add `--wait 15m`)",
    ),
    Role.HOT_ROLLBACK: _Rule(
        "HOT_ROLLBACK_TARGET",
        "{what} kept up for rollback (scale-down delay) need the old schema of {change}",
        "wait for the scale-down-deadline to pass (add `--wait 15m`)",
    ),
    Role.IDLE_COLOUR: _Rule(
        "HOT_ROLLBACK_TARGET",
        "{what} of the idle colour are kept warm as an instant rollback target",
        "scale the idle colour to 0 replicas once you no longer need the instant rollback, then retry",
    ),
    Role.ROLLBACK_WINDOW: _Rule(
        "FAST_ROLLBACK_WINDOW",
        "{what} inside spec.rollbackWindow can be rolled "
        "back to without steps or analysis and need the old schema of {change}",
        "roll out newer FINAL revisions or lower spec.rollbackWindow.revisions",
    ),
}

_UNDO_EXPAND = _Rule(
    "NEW_PODS_DEPEND_ON_EXPAND",
    "{what} built with the expand of {change} depend on it",
    "roll every pod, canary, preview, idle colour and rollback-window revision back to "
    "an image built before the expand, then retry",
)
_NEW_BEFORE_EXPAND = _Rule(
    "NEW_BEFORE_EXPAND",
    "{what} built with the expand of {change} already run before the expand was applied",
    "run `expandcontract run expand` now; gate the rollout on the expand next time (Flagger confirm-rollout)",
)
_UNSTAMPED = _Rule(
    "UNSTAMPED_POD",
    "{what} carry no expandcontract.io/schema annotation",
    "put `expandcontract heads --stamp` into the pod template annotation expandcontract.io/schema at build time",
)
_UNKNOWN_STAMP = _Rule(
    "UNKNOWN_STAMP",
    "{what} carry a schema stamp this checkout cannot resolve ({why})",
    "run the gate from a checkout that has every revision the image was built with (git pull)",
)
_UNTRUSTED = _Rule(
    "UNTRUSTED_STAMP",
    "{what} carry a schema stamp bound to another image ({why}), so it does not say what their code needs",
    "stamp the image that runs (`expandcontract heads --stamp --image REF` at the commit it was built from) or "
    "roll the image back to the one expandcontract.io/schema-image names",
)


def _rule_for(phase: str, unit: Unit, cls: PodClass, why: str) -> tuple[_Rule, Severity] | None:
    if unit.untrusted is not None:
        return _UNTRUSTED, (Severity.WARN if phase == "expand" else Severity.UNKNOWN)
    if phase == "expand":
        if unit.is_pod and cls in (PodClass.NEW, PodClass.FINAL):
            return _NEW_BEFORE_EXPAND, Severity.WARN
        return None
    if cls is PodClass.UNKNOWN:
        unstamped = unit.stamp is None or not unit.stamp.strip()
        return (_UNSTAMPED if unstamped else _UNKNOWN_STAMP), Severity.UNKNOWN
    if phase == "migrate" and cls is PodClass.OLD:
        return _MIGRATE[unit.role], Severity.BLOCK
    if phase == "contract" and (cls is not PodClass.FINAL or unit.role is Role.IDLE_COLOUR):
        return _CONTRACT[unit.role], Severity.BLOCK
    if phase == "undo-expand" and cls in (PodClass.NEW, PodClass.FINAL):
        return _UNDO_EXPAND, Severity.BLOCK
    return None


def _what(objects: list[str]) -> str:
    pods = sum(1 for o in objects if o.startswith("Pod "))
    templates = len(objects) - pods
    parts = []
    if pods:
        parts.append(f"{pods} pod{'s' if pods != 1 else ''}")
    if templates:
        parts.append(f"{templates} template{'s' if templates != 1 else ''}")
    shown = ", ".join(objects[:SHOWN]) + (f", +{len(objects) - SHOWN} more" if len(objects) > SHOWN else "")
    return f"{' and '.join(parts)} ({shown})"


def judge(
    phase: str,
    change: str,
    strategy: str,
    target: Target,
    assessment: Assessment,
    classify: Classify,
) -> Decision:
    """The Decision for `phase` of `change` given what the strategy saw. Pure."""
    groups: dict[tuple[_Rule, Severity, str], list[str]] = {}
    classes: Counter[str] = Counter()
    for unit in assessment.units:
        cls, why = classify(unit.stamp)
        if unit.untrusted is not None:
            why = unit.untrusted
        if unit.is_pod:
            classes["UNTRUSTED" if unit.untrusted is not None else cls.value] += 1
        picked = _rule_for(phase, unit, cls, why)
        if picked is not None:
            rule, severity = picked
            key_why = why if rule in (_UNKNOWN_STAMP, _UNTRUSTED) else ""
            groups.setdefault((rule, severity, key_why), []).append(unit.ref)

    reasons: list[Reason] = []
    for reason in assessment.reasons:
        if phase not in ("migrate", "contract") and reason.severity is Severity.DENY:
            # a failed rollout ends migrate/contract; for undo-expand only the pods matter
            reason = Reason(reason.code, reason.message, reason.objects, Severity.WARN)
        reasons.append(reason)
    if phase == "migrate" and not assessment.complete and assessment.progress:
        reasons.append(
            Reason(
                "ROLLOUT_IN_PROGRESS",
                f"{target} has not finished rolling out: {assessment.progress}; wait for it (add `--wait 15m`)",
                (str(target),),
            )
        )
    if assessment.mirror and phase in ("migrate", "contract"):
        reasons.append(
            Reason(
                "MIRROR_ACTIVE",
                f"traffic mirroring is on ({', '.join(assessment.mirror)}): mirrored requests write twice; "
                "wait until the mirror step is removed or the analysis ends",
                (str(target),),
            )
        )
    for (rule, severity, why), objects in groups.items():
        objects = sorted(set(objects))
        text = rule.text.format(what=_what(objects), change=change, why=why)
        reasons.append(Reason(rule.code, f"{text}; {rule.fix}", tuple(objects), severity))

    observed: dict[str, Any] = dict.fromkeys(("generation", "observedGeneration", "phase", "step", "weights"))
    observed.update(assessment.observed)
    observed["pods"] = dict(sorted(classes.items()))
    return Decision(phase, change, strategy, target, tuple(reasons), observed)
