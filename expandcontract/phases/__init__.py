"""Changes, phases, lanes, the planner (pure) and the runner (database)."""

from __future__ import annotations

from expandcontract.names import LANES

__all__ = ["LANES"]
