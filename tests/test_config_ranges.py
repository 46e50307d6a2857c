"""Every numeric config key has a range; out-of-range values are one line naming the key and the range."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

from expandcontract import config as config_module
from expandcontract.config import Config, load_config
from expandcontract.config_range import INT32_MAX, Range, range_of
from expandcontract.errors import ConfigError


def _sections() -> list[tuple[str, type[Any]]]:
    """(TOML section, dataclass) for every section of Config (rollout targets are strings only)."""
    hints = typing.get_type_hints(Config)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(Config) if dataclasses.is_dataclass(hints[f.name])]


def _numeric_fields() -> list[tuple[str, str, type[Any], Range | None]]:
    out = []
    for classes in [("", Config), *_sections(), ("rollout.targets", config_module.TargetConfig)]:
        section, cls = classes
        hints = typing.get_type_hints(cls)
        for fld in dataclasses.fields(cls):
            hint = hints[fld.name]
            if hint in (int, float):
                out.append((section, fld.name, hint, range_of(fld)))
    return out


NUMERIC = _numeric_fields()


def test_there_are_numeric_fields_to_check() -> None:
    names = {name for _s, name, _h, _r in NUMERIC}
    assert {"lock_timeout_ms", "retry_budget_s", "range_rows", "pg_version", "max_body_bytes"} <= names


@pytest.mark.parametrize(("section", "name", "hint", "rng"), NUMERIC, ids=[f"{s}.{n}" for s, n, _h, _r in NUMERIC])
def test_every_numeric_field_declares_a_range(section: str, name: str, hint: type[Any], rng: Range | None) -> None:
    assert rng is not None, f"[{section}] {name} has no range: declare it with ranged(default, low, high)"
    assert rng.high < math.inf and rng.low > -math.inf


def _write(tmp_path: Path, section: str, line: str) -> Path:
    header = "[tool.expandcontract]" if not section else f"[tool.expandcontract.{section}]"
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n{header}\n{line}\n")
    return tmp_path


def _bad_values(hint: type[Any], rng: Range) -> list[str]:
    """TOML literals just outside the range, plus values that are never ours (NaN, inf, wrong type)."""
    as_literal = (lambda v: repr(int(v))) if hint is int else (lambda v: repr(float(v)))
    numbers = [rng.low if rng.low_open else rng.low - 1, rng.high + 1, -1, 2**63 - 1]
    bad = [as_literal(v) for v in numbers if not rng.allows(v)]
    return bad + (["nan", "inf", "-inf"] if hint is float else ["1.5", "nan", "true"])


CASES = [
    (section, name, bad) for section, name, hint, rng in NUMERIC if rng is not None for bad in _bad_values(hint, rng)
]


@pytest.mark.parametrize(("section", "name", "literal"), CASES, ids=[f"{s}.{n}={b}" for s, n, b in CASES])
def test_out_of_range_is_one_line_naming_key_and_range(tmp_path: Path, section: str, name: str, literal: str) -> None:
    if section == "rollout.targets":
        pytest.skip("targets have no numeric keys")
    _write(tmp_path, section, f"{name} = {literal}")
    with pytest.raises(ConfigError) as err:
        load_config(start=tmp_path)
    message = str(err.value)
    assert name in message and "\n" not in message
    assert "use " in message or "must be" in message
    assert err.value.exit_code == 2


def _partners(section: str, name: str, value: float) -> list[str]:
    """Lines that keep the related keys (`at_most`) consistent with `name = value`."""
    out = []
    for other_section, other, hint, rng in NUMERIC:
        if other_section != section or rng is None:
            continue
        if rng.at_most == name:  # `other` must not exceed `name`: put it at its lowest
            out.append(f"{other} = {int(rng.low) if hint is int else float(rng.low)!r}")
    mine = next(r for s, n, _h, r in NUMERIC if s == section and n == name)
    if mine is not None and mine.at_most is not None:
        out.append(f"{mine.at_most} = {int(value)!r}")  # room above `name`
    return out


@pytest.mark.parametrize(("section", "name", "hint", "rng"), NUMERIC, ids=[f"{s}.{n}" for s, n, _h, _r in NUMERIC])
def test_range_ends_are_accepted(tmp_path: Path, section: str, name: str, hint: type[Any], rng: Range | None) -> None:
    assert rng is not None
    ends = [rng.high] if rng.low_open else [rng.low, rng.high]
    for end in ends:
        literal = repr(int(end)) if hint is int else repr(float(end))
        _write(tmp_path, section, "\n".join([f"{name} = {literal}", *_partners(section, name, end)]))
        cfg = load_config(start=tmp_path)
        obj = cfg if not section else getattr(cfg, section)
        assert getattr(obj, name) == end


def test_messages_name_the_range(tmp_path: Path) -> None:
    _write(tmp_path, "ddl", "lock_timeout_ms = -5")
    with pytest.raises(
        ConfigError, match=rf"lock_timeout_ms = -5 is out of range; use an integer from 1 to {INT32_MAX}"
    ):
        load_config(start=tmp_path)
    _write(tmp_path, "ddl", "lock_timeout_ms = 2147483648")
    with pytest.raises(ConfigError, match="lock_timeout_ms = 2147483648 is out of range"):
        load_config(start=tmp_path)
    _write(tmp_path, "backfill", "range_rows = 0")
    with pytest.raises(ConfigError, match="range_rows = 0 is out of range; use an integer from 1"):
        load_config(start=tmp_path)
    _write(tmp_path, "ddl", "retry_budget_s = -10")
    with pytest.raises(
        ConfigError, match=r"retry_budget_s = -10\.0 is out of range; use a finite number greater than 0"
    ):
        load_config(start=tmp_path)
    _write(tmp_path, "backfill", "max_replica_lag_s = nan")
    with pytest.raises(ConfigError, match="max_replica_lag_s = nan is out of range"):
        load_config(start=tmp_path)


def test_related_keys(tmp_path: Path) -> None:
    _write(tmp_path, "backfill", "min_batch_size = 500\nmax_batch_size = 100")
    with pytest.raises(ConfigError, match="min_batch_size = 500 is above max_batch_size = 100"):
        load_config(start=tmp_path)
    _write(tmp_path, "ddl", "retry_base_ms = 5000")
    with pytest.raises(ConfigError, match="retry_base_ms = 5000 is above retry_max_ms = 2000"):
        load_config(start=tmp_path)


def test_cli_refuses_before_anything_runs(tmp_path: Path) -> None:
    """`run` with a bad key exits 2 with one line and no traceback, before any database work."""
    _write(tmp_path, "ddl", "retry_budget_s = -10")
    proc = subprocess.run(
        [sys.executable, "-m", "expandcontract", "--database-url", "postgresql://u@127.0.0.1:1/x", "status"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "retry_budget_s = -10.0 is out of range" in lines[0]
    assert "Traceback" not in proc.stderr and "127.0.0.1:1" not in proc.stderr
