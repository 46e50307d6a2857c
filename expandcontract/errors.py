"""One exception tree for the whole tool; each class carries the exit code the CLI returns for it.

The exit codes are a public contract (DESIGN.md): 0 ok, 1 problems found, 2 bad usage / config / input
(an unreachable database included), 3 gate blocked, 4 gate unknown (fail closed), 5 gate denied.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_BLOCKED = 3
EXIT_UNKNOWN = 4
EXIT_DENIED = 5


class ExpandContractError(Exception):
    """Base class. `str(err)` is the one line shown to the user: what is wrong and how to fix it."""

    exit_code: int = EXIT_USAGE

    def details(self) -> dict[str, object]:
        """Extra keys for the `{"error": {...}}` JSON document (data the message names)."""
        return {}


class UsageError(ExpandContractError):
    """Bad arguments or input on the command line."""


class ConfigError(ExpandContractError):
    """`[tool.expandcontract]` is missing, malformed or has an unknown key."""


class DatabaseUnreachable(ExpandContractError):
    """Could not connect. The message names host/port (or socket) with the password masked."""


class ProjectError(ExpandContractError):
    """The Alembic project is malformed: a revision that does not import, two heads in a lane, a
    revision whose `ec_phase` disagrees with its lane, a contract without an expand."""


class PhaseOrderError(ExpandContractError):
    """`run PHASE` refused: the target needs unapplied revisions of another lane (exit 2, nothing applied)."""

    def __init__(self, message: str, details: dict[str, object]) -> None:
        super().__init__(message)
        self._details = details

    def details(self) -> dict[str, object]:
        return dict(self._details)


class ProblemsFound(ExpandContractError):
    """The command ran and found problems (lint errors, failed verify, a failed phase)."""

    exit_code = EXIT_PROBLEMS


class PhaseFailed(ProblemsFound):
    """A revision failed while running; the message says what was rolled back and what to do."""


class LockBudgetExhausted(PhaseFailed):
    """DDL could not get its lock within the retry budget. Carries the blocking sessions."""

    def __init__(self, message: str, blockers: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.blockers = blockers


class GateBlocked(ExpandContractError):
    exit_code = EXIT_BLOCKED


class GateUnknown(ExpandContractError):
    exit_code = EXIT_UNKNOWN


class GateDenied(ExpandContractError):
    exit_code = EXIT_DENIED


class RevisionExited(Exception):
    """A revision's upgrade() or downgrade() called sys.exit(). Deliberately not an ExpandContractError:
    callers handle it as the revision failure it is (rolled back, reported, audit closed), instead of the
    process ending with the revision's exit code and no message."""
