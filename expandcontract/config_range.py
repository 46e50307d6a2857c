"""The allowed range of every numeric config key, declared next to its field as dataclass metadata.

`lock_timeout_ms = -5` reached PostgreSQL and traced back, `retry_budget_s = -10` let a revision start
and then gave up half-way, `range_rows = 0` made workers claim empty ranges forever, `nan` compared false
with everything. Every int and float field of a config section therefore carries a `Range`
(`field(metadata={"range": ...})` through `ranged()`), the loader checks it before anything runs, and a
test walks every numeric field so a new key cannot miss one.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

INT32_MAX = 2_147_483_647  # PostgreSQL's limit for lock_timeout / statement_timeout (ms)
HOUR_S = 3600.0
DAY_S = 86_400.0
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
MAX_ROWS = 100_000_000  # rows in one batch
MAX_KEYS = 2**62  # keys in one claimed range (bigint keys)


@dataclass(frozen=True)
class Range:
    """`low <= value <= high` (or `low < value` with `low_open`), finite; `at_most` names a sibling key
    this one must not exceed."""

    low: float
    high: float
    low_open: bool = False
    unit: str = ""
    why: str = ""
    at_most: str | None = None

    def allows(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above_low = value > self.low if self.low_open else value >= self.low
        return above_low and value <= self.high

    def describe(self, integer: bool) -> str:
        unit = f" {self.unit}" if self.unit else ""
        low, high = (_num(self.low, integer), _num(self.high, integer))
        kind = "an integer" if integer else "a finite number"
        text = (
            f"{kind} greater than {low} and at most {high}{unit}"
            if self.low_open
            else f"{kind} from {low} to {high}{unit}"
        )
        return f"{text} ({self.why})" if self.why else text


def _num(value: float, integer: bool) -> str:
    return str(int(value)) if integer or float(value).is_integer() else repr(value)


def ranged(
    default: float,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    unit: str = "",
    why: str = "",
    at_most: str | None = None,
) -> Any:
    """A dataclass field with `default` whose allowed range travels with it."""
    rng = Range(low, high, low_open=low_open, unit=unit, why=why, at_most=at_most)
    assert rng.allows(default), f"default {default} outside its own range"
    return field(default=default, metadata={"range": rng})


def range_of(fld: dataclasses.Field[Any]) -> Range | None:
    found = fld.metadata.get("range")
    return found if isinstance(found, Range) else None


def out_of_range(obj: Any) -> str | None:
    """The first problem with `obj`'s numeric fields as `key = value: use ...`, or None."""
    for fld in dataclasses.fields(obj):
        rng = range_of(fld)
        value = getattr(obj, fld.name)
        if rng is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        integer = isinstance(value, int)
        if not rng.allows(value):
            return f"{fld.name} = {value!r} is out of range; use {rng.describe(integer)}"
        if rng.at_most is not None:
            other = getattr(obj, rng.at_most)
            if value > other:
                return f"{fld.name} = {value!r} is above {rng.at_most} = {other!r}; use at most {other!r}"
    return None
