"""What a rehearsal found: a row per step and release, the problems, and how both are shown.

JSON (DESIGN.md): `{"ok", "steps": [{"change", "phase", "release", "ops", "errors", "p99_ms",
"max_lock_wait_ms", ...}], "problems": [{"kind", "change", "phase", "release", "message", "sql", ...}]}`;
the extra keys are `step` (which step of the phase), `seconds`, `count` and the run's context.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("app-error", "stall", "divergence", "phase-failed")


@dataclass
class StepRow:
    change: str | None
    phase: str
    step: str
    release: str | None
    ops: int = 0
    errors: int = 0
    p99_ms: float = 0.0
    max_lock_wait_ms: float = 0.0
    seconds: float = 0.0


@dataclass
class Problem:
    kind: str  # one of KINDS
    change: str | None
    phase: str
    release: str | None
    message: str
    sql: str | None = None
    step: str | None = None
    count: int = 1


@dataclass
class Report:
    old: str
    server: str = ""
    rows: int = 0
    changes: list[str] = field(default_factory=list)
    steps: list[StepRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "old": self.old,
            "server": self.server,
            "rows": self.rows,
            "changes": self.changes,
            "steps": [asdict(s) for s in self.steps],
            "problems": [asdict(p) for p in self.problems],
            "notes": self.notes,
            "seconds": round(self.seconds, 2),
        }

    def render_text(self) -> str:
        lines: list[str] = []
        header = ("change", "phase", "step", "release", "ops", "errors", "p99 ms", "max lock wait ms")
        rows = [
            (
                s.change or "-",
                s.phase,
                s.step,
                s.release or "-",
                f"{s.ops:,}",
                f"{s.errors:,}",
                f"{s.p99_ms:.1f}",
                f"{s.max_lock_wait_ms:.0f}",
            )
            for s in self.steps
        ]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        numeric = {4, 5, 6, 7}

        def fmt(row: tuple[str, ...]) -> str:
            cells = [
                c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ]
            return "  ".join(cells).rstrip()

        previous: tuple[str, str] | None = None
        lines.append(fmt(header))
        for s, row in zip(self.steps, rows, strict=True):
            group = (s.change or "-", s.phase)
            if previous is not None and group != previous:
                lines.append("")
            previous = group
            lines.append(fmt(row))
        if self.problems:
            lines += ["", "problems:"]
            for p in self.problems:
                where = f"{p.change or '-'} {p.phase}" + (f" ({p.step})" if p.step and p.step != p.phase else "")
                who = f", {p.release} release" if p.release else ""
                lines.append(f"  {p.kind}: {where}{who}: {p.message}")
                if p.sql:
                    lines.append(f"    sql: {p.sql}")
        for note in self.notes:
            lines.append(f"note: {note}")
        lines += ["", self.summary()]
        return "\n".join(lines)

    def summary(self) -> str:
        ops = sum(s.ops for s in self.steps)
        what = f"{len(self.changes)} change(s) since {self.old}, {ops:,} app operations, {self.seconds:.1f}s"
        if self.ok:
            return f"rehearse: ok: no errors, stalls or divergences ({what})"
        counts: dict[str, int] = {}
        for p in self.problems:
            counts[p.kind] = counts.get(p.kind, 0) + 1
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        return f"rehearse: FAILED: {len(self.problems)} problem(s): {kinds} ({what})"
