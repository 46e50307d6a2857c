"""Build real projects (init + new) in tmp_path and give their revisions the bodies a test needs."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from expandcontract.config import Config, load_config
from expandcontract.phases.adopt import init
from expandcontract.phases.scaffold import new


@dataclass
class Chain:
    root: Path

    @property
    def config(self) -> Config:
        return load_config(start=self.root)

    def add(
        self,
        change: str,
        phases: dict[str, tuple[str, ...]],
        *,
        header: str = "",
    ) -> dict[str, str]:
        """Scaffold `change` with `phases` = {phase: (upgrade body, downgrade body[, module header])};
        returns phase -> revision id."""
        made = new(self.config, f"{change} change", change, tuple(phases))
        ids: dict[str, str] = {}
        for rev in made:
            up, down, *extra = phases[rev.phase]
            set_bodies(rev.path, up, down, "\n".join([header, *extra]))
            ids[rev.phase] = rev.revision
        return ids


def set_bodies(path: Path, up: str, down: str, header: str = "") -> None:
    text = path.read_text()
    head, _, _ = text.partition("\ndef upgrade() -> None:\n")
    body = lambda src: textwrap.indent(textwrap.dedent(src).strip() or "pass", "    ")  # noqa: E731
    text = f"{head}\n{header}\n\ndef upgrade() -> None:\n{body(up)}\n\n\ndef downgrade() -> None:\n{body(down)}\n"
    path.write_text(text)
    assert re.search(r"^revision = ", text, re.M)


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    root = tmp_path / "proj"
    init(root)
    return Chain(root)
