"""The config loader on fuzzed documents: a Config whose every numeric key is in its range, or one
ConfigError line (exit 2); never another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from expandcontract.config import load_config
from expandcontract.config_range import out_of_range
from expandcontract.errors import ConfigError
from tests.fuzz.strategies import FUZZ, config_documents

ROOT = Path(tempfile.mkdtemp(prefix="ec-fuzz-config-"))


def _load(data: bytes, name: str) -> None:
    path = ROOT / name
    path.write_bytes(data)
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message and exc.exit_code == 2, message
        return
    for section in (cfg, cfg.ddl, cfg.lint, cfg.backfill, cfg.serve):
        assert out_of_range(section) is None


@FUZZ
@given(doc=config_documents(), name=st.sampled_from(["pyproject.toml", "expandcontract.toml"]))
def test_config_loader_on_fuzzed_documents(doc: str, name: str) -> None:
    _load(
        ("[project]\nname = 'x'\n" if name == "pyproject.toml" else "").encode() + doc.encode("utf-8", "surrogatepass"),
        name,
    )


@FUZZ
@given(data=st.binary(max_size=200))
def test_config_loader_on_random_bytes(data: bytes) -> None:
    _load(data, "expandcontract.toml")
