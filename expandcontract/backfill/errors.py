"""The backfill's own exceptions, placed in the project's tree so each carries the right exit code."""

from __future__ import annotations

from expandcontract.errors import PhaseFailed, UsageError


class BackfillInputError(UsageError):
    """Bad input found before any row is touched: no usable key, an unknown column, SQL that does not
    compile. Exit 2; nothing was written."""


class BackfillFailed(PhaseFailed):
    """A batch failed on some rows; the message names the key range and the error. The checkpoint is
    kept, so after a fix the backfill resumes where it stopped. Exit 1."""


class BackfillCancelled(PhaseFailed):
    """Someone ran `expandcontract backfill cancel NAME`. Exit 1; the checkpoint is kept."""
