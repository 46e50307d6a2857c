"""Traffic mirroring (shadow): is a mirror route live right now?

Mirrored requests execute real writes a second time on the canary, so while a mirror is active the
canary's code writes to the database even at 0% weight: migrate and contract are blocked. Argo: a
`setMirrorRoute` step with a `match` at an index below `currentStepIndex`, not removed by a later
`setMirrorRoute` of the same name without `match`, and the rollout not yet fully promoted. Flagger:
`analysis.mirror: true` while the canary is Progressing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expandcontract.gates.objects import dig


def argo_mirrors(rollout: Mapping[str, Any]) -> list[str]:
    """Names of the Argo mirror routes that are live (empty when none)."""
    steps = dig(rollout, "spec", "strategy", "canary", "steps", default=[]) or []
    index = dig(rollout, "status", "currentStepIndex")
    if not isinstance(index, int):
        index = 0
    stable, current = dig(rollout, "status", "stableRS"), dig(rollout, "status", "currentPodHash")
    if stable and stable == current:
        return []  # fully promoted: Argo removes the mirror routes at the end of the steps
    live: dict[str, int] = {}
    for i, step in enumerate(steps[:index]):
        route = step.get("setMirrorRoute") if isinstance(step, Mapping) else None
        if not isinstance(route, Mapping):
            continue
        name = str(route.get("name", ""))
        if route.get("match"):
            live[name] = i
        else:
            live.pop(name, None)
    return [f"Argo setMirrorRoute {name!r} (step {i})" for name, i in live.items()]


def flagger_mirrors(canary: Mapping[str, Any]) -> list[str]:
    mirror = dig(canary, "spec", "analysis", "mirror") is True
    if mirror and dig(canary, "status", "phase") == "Progressing":
        weight = dig(canary, "spec", "analysis", "mirrorWeight", default=100)
        return [f"Flagger analysis.mirror ({weight}% mirrored)"]
    return []
