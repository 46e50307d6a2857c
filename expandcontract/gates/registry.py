"""Target kind -> strategy. Adding a strategy = its module + one line here + its tests."""

from __future__ import annotations

from expandcontract.gates.argo import Argo
from expandcontract.gates.base import Strategy
from expandcontract.gates.bluegreen import BlueGreen
from expandcontract.gates.deployment import Rolling
from expandcontract.gates.flagger import Flagger

STRATEGIES: dict[str, Strategy] = {s.kind: s for s in (Rolling(), BlueGreen(), Argo(), Flagger())}
