"""Changes, phases, lanes, the planner (pure) and the runner (database)."""

from __future__ import annotations

LANES: tuple[str, str, str] = ("expand", "migrate", "contract")
