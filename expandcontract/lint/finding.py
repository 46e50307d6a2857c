"""A finding: one rule violation at one place, with everything a renderer needs (text, JSON, SARIF,
GitHub annotations all read the same fields)."""

from __future__ import annotations

from expandcontract.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

ERROR = "error"
WARNING = "warning"


class Finding(Record):
    __slots__ = (
        "column",
        "direction",
        "fix",
        "line",
        "lock",
        "message",
        "path",
        "phase",
        "revision",
        "rule",
        "severity",
        "table",
        "why",
    )

    def __init__(
        self,
        path: str,
        line: int,
        column: int,
        rule: str,
        severity: str,
        message: str,
        why: str = "",
        fix: list[str] | None = None,
        lock: str | None = None,
        table: str | None = None,
        phase: str | None = None,
        revision: str | None = None,
        direction: str = "upgrade",  # "downgrade": found in a revision's downgrade()
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.rule = rule
        self.severity = severity
        self.message = message
        self.why = why
        self.fix = fix if fix is not None else []
        self.lock = lock
        self.table = table
        self.phase = phase
        self.revision = revision
        self.direction = direction

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

    def row(self) -> tuple[object, ...]:
        """The fields in __init__'s order, as plain values: `Finding(*f.row())` equals `f` (marshal-able,
        what a forked lint worker sends back)."""
        return (
            self.path,
            self.line,
            self.column,
            self.rule,
            self.severity,
            self.message,
            self.why,
            self.fix,
            self.lock,
            self.table,
            self.phase,
            self.revision,
            self.direction,
        )

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.rule)
