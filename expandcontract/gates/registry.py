"""Target kind -> strategy. Adding a strategy = its module + one line here + its tests.

Everything kind-shaped comes from here: the kinds `gate --kind/--target` and the config accept, the
API coordinates the live source reads, the kinds a label selector over workloads looks at, and the
RBAC the shipped Role must grant (a test checks deploy/rbac.yaml against KINDS).
"""

from __future__ import annotations

from expandcontract.gates.argo import Argo
from expandcontract.gates.base import Strategy
from expandcontract.gates.bluegreen import BlueGreen
from expandcontract.gates.cronjob import CronJobs
from expandcontract.gates.daemonset import DaemonSets
from expandcontract.gates.deployment import Rolling
from expandcontract.gates.flagger import Flagger
from expandcontract.gates.job import Jobs
from expandcontract.gates.objects import Kind
from expandcontract.gates.statefulset import StatefulSets

STRATEGIES: dict[str, Strategy] = {
    s.kind: s
    for s in (
        Rolling(),
        StatefulSets(),
        DaemonSets(),
        BlueGreen(),
        Argo(),
        Flagger(),
        Jobs(),
        CronJobs(),
    )
}

KINDS: dict[str, Kind] = {k.name: k for s in STRATEGIES.values() for k in (s.api, *s.reads)}
