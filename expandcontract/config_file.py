"""Where the config is: the nearest expandcontract.toml, or pyproject.toml with a [tool.expandcontract] table.

Kept apart from config.py so that finding out there is no config costs a few stat calls: `lint` of .sql
files in a directory without one (editors, pre-commit hooks) then never imports tomllib, pathlib or the
config dataclasses. A pyproject.toml is parsed only when its bytes mention `expandcontract` (or hold a
TOML unicode escape, which could spell the key): any other pyproject.toml cannot have the table.
"""

from __future__ import annotations

import os

from expandcontract.errors import ConfigError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

CONFIG_TOML = "expandcontract.toml"
PYPROJECT = "pyproject.toml"


def find_config_file(start: str) -> str | None:
    """The config file that applies in directory `start` (its real path), or None: no config."""
    directory = os.path.realpath(start)
    while True:
        candidate = os.path.join(directory, CONFIG_TOML)
        if os.path.isfile(candidate):
            return candidate
        candidate = os.path.join(directory, PYPROJECT)
        if os.path.isfile(candidate) and _has_table(candidate):
            return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _has_table(pyproject: str) -> bool:
    try:
        with open(pyproject, "rb") as fh:
            data = fh.read()
    except OSError:
        data = b"expandcontract"  # unreadable: let the TOML reader say why, as for any config file
    if b"expandcontract" not in data and b"\\u" not in data and b"\\U" not in data:
        return False
    return "expandcontract" in read_toml(pyproject).get("tool", {})


def read_toml(path: str) -> dict[str, Any]:
    """A config file's TOML document; a file that is not TOML is one line naming it (exit 2)."""
    import tomllib

    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc}); fix the syntax") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte at offset {exc.start}); TOML files are UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
