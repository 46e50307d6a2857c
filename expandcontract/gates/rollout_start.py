"""rollout-start: may the pods a deploy tool is about to start (Flagger confirm-rollout / confirm-promotion)
start now? Two halves, both must agree:

- the database (a hook, schema.py): every expand the incoming image was built with is applied, no
  contract it predates is applied, and for a change the image is FINAL for, that change's migrate is
  applied (FINAL code no longer dual-writes: the backfill must have run);
- the rollout state (here, pure over what the strategy read): for every change the incoming image is
  FINAL for, no pod or template of the configured targets that keeps serving beside it (the primary,
  the stable side) is OLD for that change: OLD code writes only the old shape, which FINAL code no
  longer reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from expandcontract.gates.base import Classify, Reader, Role, SourceError, Unit
from expandcontract.gates.image import image_problem
from expandcontract.gates.model import Decision, Reason, Severity, Target
from expandcontract.gates.objects import dig
from expandcontract.gates.pods import template_of, template_stamp
from expandcontract.gates.registry import STRATEGIES
from expandcontract.phases.stamp import IMAGE_ANNOTATION, PodClass

ROLLOUT_START = "rollout-start"
SchemaReady = Callable[[str], tuple[bool, str]]
INCOMING = (Role.CANARY, Role.PREVIEW)  # the pods that are the incoming version itself


def _unknown(base: Decision, code: str, message: str, objects: tuple[str, ...] = ()) -> Decision:
    return replace(base, reasons=(*base.reasons, Reason(code, message, objects, Severity.UNKNOWN)))


def old_beside(units: Iterable[Unit], change: str, classify: Classify) -> list[str]:
    """Objects that keep serving beside the incoming version and are OLD for `change`."""
    return sorted({u.ref for u in units if u.role not in INCOMING and classify(u.stamp)[0] is PodClass.OLD})


def rollout_start(
    reader: Reader,
    target: Target,
    targets: Iterable[Target],
    changes: Mapping[str, Classify],
    schema_ready: SchemaReady | None,
    options: Mapping[str, Any] | None = None,
) -> Decision:
    """The decision for pods of `target`'s incoming template starting now, against every configured target."""
    strategy = STRATEGIES[target.kind]
    base = Decision(ROLLOUT_START, "-", strategy.name, target)
    try:
        incoming = strategy.incoming(reader, target)
    except SourceError as exc:
        return _unknown(base, exc.code, exc.message, exc.objects or (str(target),))
    if incoming is None:
        return _unknown(
            base,
            "UNSUPPORTED",
            f"rollout-start cannot tell which template {target} starts next; gate the Deployment you deploy to",
            (str(target),),
        )
    stamp = template_stamp(incoming)
    if stamp is None:
        return _unknown(
            base,
            "UNSTAMPED_POD",
            f"the incoming pod template of {target} has no expandcontract.io/schema annotation; stamp it "
            "with `expandcontract heads --stamp` at build time",
            (str(target),),
        )
    template = template_of(incoming)
    untrusted = image_problem(dig(template, "metadata", "annotations", IMAGE_ANNOTATION), dig(template, "spec"))
    base = replace(base, observed={"stamp": stamp})
    if untrusted is not None:
        return _unknown(
            base,
            "UNTRUSTED_STAMP",
            f"the incoming template of {target} carries a stamp bound to another image ({untrusted}); re-stamp it",
            (str(target),),
        )
    reasons: list[Reason] = []
    final_for: list[str] = []
    for slug, classify in changes.items():
        cls, why = classify(stamp)
        if cls is PodClass.UNKNOWN:
            return _unknown(
                base, "UNKNOWN_STAMP", f"the incoming stamp {stamp} cannot be resolved ({why})", (str(target),)
            )
        if cls is PodClass.FINAL:
            final_for.append(slug)
    if final_for:
        for other in targets:
            part_strategy = STRATEGIES[other.kind]
            try:
                objects = part_strategy.collect(reader, other, options or {})
            except SourceError as exc:
                reasons.append(Reason(exc.code, exc.message, exc.objects or (str(other),), Severity.UNKNOWN))
                continue
            assessment = part_strategy.assess(objects, other, options or {})
            for code, message, objs in objects.errors:
                reasons.append(Reason(code, message, objs or (str(other),), Severity.UNKNOWN))
            for slug in final_for:
                old = old_beside(assessment.units, slug, changes[slug])
                if old:
                    shown = ", ".join(old[:3]) + (f", +{len(old) - 3} more" if len(old) > 3 else "")
                    reasons.append(
                        Reason(
                            "OLD_PODS_SERVE",
                            f"{target} would start pods built with the contract of {slug} while {len(old)} "
                            f"pods/templates of {other} still run code built before its expand ({shown}); "
                            f"roll {other} to an image with the expand of {slug} first, then retry",
                            tuple(old),
                            Severity.BLOCK,
                        )
                    )
    if schema_ready is None:
        reasons.append(
            Reason(
                "NO_DATABASE_HOOK",
                "rollout-start needs the database and this server has none: start `expandcontract serve` with "
                "--database-url or DATABASE_URL",
                (str(target),),
                Severity.UNKNOWN,
            )
        )
    else:
        try:
            ready, why = schema_ready(stamp)
        except Exception:  # a database we could not read: could not tell (the server logs the details)
            import logging

            logging.getLogger("expandcontract.serve").exception("rollout-start: the schema check failed")
            ready, why = None, ""
        if ready is None:
            reasons.append(
                Reason(
                    "SCHEMA_UNKNOWN",
                    "the schema check could not read the database (details in the server log)",
                    (),
                    Severity.UNKNOWN,
                )
            )
        elif not ready:
            reasons.append(
                Reason(
                    "SCHEMA_NOT_READY",
                    f"{target} is about to start pods built with {stamp}, but {why}; run that phase first",
                    (str(target),),
                    Severity.BLOCK,
                )
            )
    return replace(base, reasons=tuple(reasons))
