"""`expandcontract rehearse`: both releases' traffic through every phase of a deploy, on a scratch
PostgreSQL, failing on any app error, lock stall, divergence of a renamed column, or failed phase.

    from expandcontract.rehearse import Options, rehearse
    report = rehearse(project, old="origin/main", options=Options(rows=10_000, seconds=2))
    report.ok, report.problems, report.to_dict()
"""

from __future__ import annotations

from expandcontract.rehearse.report import KINDS, Problem, Report, StepRow
from expandcontract.rehearse.session import Options, rehearse

__all__ = ["KINDS", "Options", "Problem", "Report", "StepRow", "rehearse"]
