"""Batched, throttled, resumable backfills (issue 4): the migrate phase's unit of work.

`op.backfill(...)` (registered by `expandcontract.backfill.op`) runs one inside a migrate revision;
`run` and `work` are the same engine called directly; `status`, `pause`, `resume`, `cancel` read and
flag the checkpoint rows from any process.
"""

from __future__ import annotations

from expandcontract.backfill.api import register, run, work
from expandcontract.backfill.engine import Result
from expandcontract.backfill.spec import Spec

__all__ = ["Result", "Spec", "register", "run", "work"]
