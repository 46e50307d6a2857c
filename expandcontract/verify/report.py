"""What verify found, per revision and order, as data, text and one JSON document.

JSON keys (documented in docs/verify.md; they never change meaning): `ok`, `orders`, `since`, `server`,
`seconds`, `notes`, and `revisions`: one entry per revision and order with `revision`, `change`,
`phase`, `order`, `status` (pass | fail | lossy | skipped | not-run), `differences`, `notes`, `path`,
`seconds`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

FAILING = "fail"


@dataclass
class RevisionResult:
    revision: str
    change: str | None
    phase: str | None
    order: str
    path: str
    status: str = "pass"
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def short(self) -> str:
        return self.revision[:12]

    def label(self) -> str:
        what = " ".join(p for p in (self.change, self.phase) if p) or "unphased"
        return f"{self.short} ({what})"


@dataclass
class Report:
    server: str
    orders: list[str]
    since: str | None = None
    results: list[RevisionResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.status != FAILING for r in self.results)

    def failures(self) -> list[RevisionResult]:
        return [r for r in self.results if r.status == FAILING]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "orders": self.orders,
            "since": self.since,
            "server": self.server,
            "seconds": round(self.seconds, 3),
            "notes": self.notes,
            "revisions": [{**asdict(r), "seconds": round(r.seconds, 3)} for r in self.results],
        }

    def render_text(self) -> str:
        """The first failure in full, then one line per further failure; the same finding in several
        orders is said once, naming the orders."""
        lines: list[str] = []
        groups: dict[tuple[str, str, tuple[str, ...]], list[RevisionResult]] = {}
        for r in self.results:
            if r.status == FAILING or (r.status in ("lossy", "skipped") and r.notes):
                key = (r.status, r.revision, tuple(r.differences) if r.status == FAILING else (r.notes[0],))
                groups.setdefault(key, []).append(r)
        shown_first = False
        for (status, _, what), same in groups.items():
            r = same[0]
            orders = ", ".join(x.order for x in same) + (" orders" if len(same) > 1 else " order")
            if status == FAILING and not shown_first:
                shown_first = True
                lines.append(f"FAIL {r.label()} in {orders}: {r.path}")
                lines.extend(f"  - {d}" for d in r.differences)
                lines.extend(f"  note: {n}" for n in r.notes)
            elif status == FAILING:
                more = f" (+{len(what) - 1} more)" if len(what) > 1 else ""
                lines.append(f"FAIL {r.label()} in {orders}: {what[0] if what else 'failed'}{more}")
            else:
                lines.append(f"{status.upper()} {r.label()} in {orders}: {what[0]}")
        lines.extend(f"note: {n}" for n in self.notes)
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to verify"
        verdict = "ok" if self.ok else "FAILED"
        lines.append(
            f"verify {verdict}: {summary} ({len({r.revision for r in self.results})} revisions, "
            f"orders: {', '.join(self.orders) or 'none'}; {self.seconds:.1f} s on {self.server})"
        )
        return "\n".join(lines)
