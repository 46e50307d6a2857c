"""A finding: one rule violation at one place, with everything a renderer needs (text, JSON, SARIF,
GitHub annotations all read the same fields)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"


@dataclass
class Finding:
    path: str
    line: int
    column: int
    rule: str
    severity: str
    message: str
    why: str = ""
    fix: list[str] = field(default_factory=list)
    lock: str | None = None
    table: str | None = None
    phase: str | None = None
    revision: str | None = None
    direction: str = "upgrade"  # "downgrade": found in a revision's downgrade()

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "why": self.why,
            "fix": list(self.fix),
            "lock": self.lock,
            "table": self.table,
            "phase": self.phase,
            "revision": self.revision,
            "direction": self.direction,
        }

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.rule)
