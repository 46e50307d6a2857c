from __future__ import annotations

from pathlib import Path

import pytest

from expandcontract.config import load_config
from expandcontract.errors import ConfigError


def _write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n\n" + body)
    return tmp_path


def test_defaults_without_config(tmp_path: Path) -> None:
    cfg = load_config(start=tmp_path)
    assert cfg.ddl.lock_timeout_ms == 100 and cfg.source is None


def test_reads_sections(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "[tool.expandcontract]\nrequire_gate = true\n[tool.expandcontract.ddl]\nlock_timeout_ms = 50\n"
        "[tool.expandcontract.rollout]\nkind = 'Deployment'\nname = 'web'\n",
    )
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    cfg = load_config(start=sub)  # found from a subdirectory
    assert cfg.require_gate and cfg.ddl.lock_timeout_ms == 50 and cfg.has_rollout_target
    assert cfg.root == tmp_path.resolve()


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("[tool.expandcontract]\nlock_timout_ms = 5\n", "unknown key 'lock_timout_ms'"),
        ("[tool.expandcontract.ddl]\nlock_timout_ms = 5\n", "unknown key 'lock_timout_ms'; valid keys are"),
        ("[tool.expandcontract.ddl]\nlock_timeout_ms = '100ms'\n", "must be an integer"),
        ("[tool.expandcontract]\nrequire_gate = 'yes'\n", "must be true or false"),
        ("[tool.expandcontract\n", "invalid TOML"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path: Path, body: str, needle: str) -> None:
    if body.startswith("[tool.expandcontract\n"):
        (tmp_path / "expandcontract.toml").write_text(body)
    else:
        _write(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        load_config(start=tmp_path)
    assert needle in str(err.value)
    assert err.value.exit_code == 2


def test_explicit_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
