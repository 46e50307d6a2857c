"""Reversibility: every revision upgrades, downgrades and upgrades again on a scratch PostgreSQL with
the same catalog and the data written in between intact. `verify_project(config)` is the entry point."""

from __future__ import annotations

from expandcontract.verify.report import Report, RevisionResult
from expandcontract.verify.runner import verify, verify_project

__all__ = ["Report", "RevisionResult", "verify", "verify_project"]
