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


def test_config_discovery_parses_only_pyprojects_that_can_hold_the_table(tmp_path: Path) -> None:
    """A pyproject.toml whose bytes never mention expandcontract is skipped unread (even invalid TOML
    there is not ours to report); one that mentions it is parsed, escapes in quoted keys included."""
    from expandcontract.config_file import find_config_file

    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project\nname = 'broken, but not ours'\n")
    assert find_config_file(str(project)) is None
    (project / "pyproject.toml").write_text("# expandcontract is configured elsewhere\n[project]\nname = 'x'\n")
    assert find_config_file(str(project)) is None
    (tmp_path / "pyproject.toml").write_text('[tool."expand\\u0063ontract"]\ndata_dir = ".ec"\n')
    assert find_config_file(str(project)) == str(tmp_path / "pyproject.toml")
    assert load_config(start=project).data_dir == ".ec"
    (project / "expandcontract.toml").write_text("")
    assert find_config_file(str(project)) == str(project / "expandcontract.toml")


def test_lint_defaults_without_a_config_are_the_config_defaults() -> None:
    """`lint FILE.sql` with no config file uses LintOptions' defaults instead of loading LintConfig."""
    from expandcontract.config import LintConfig
    from expandcontract.lint.api import LintOptions

    config, options = LintConfig(), LintOptions()
    for name in ("pg_version", "transaction", "select", "ignore", "downgrade", "fail_on_not_analysable"):
        assert getattr(config, name) == getattr(options, name), name
    assert config.severity == options.severity == {}
