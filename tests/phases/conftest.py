from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from expandcontract.config import Config, load_config
from expandcontract.phases import adopt, scaffold
from expandcontract.phases.project import Project, load_project


class ProjectFactory:
    """A real project on disk: `init`, then `new` changes whose bodies the test fills in."""

    def __init__(self, root: Path) -> None:
        self.root = root
        adopt.init(root)

    @property
    def config(self) -> Config:
        return load_config(start=self.root)

    def project(self) -> Project:
        return load_project(self.config)

    def new(
        self, change: str, phases: tuple[str, ...] = ("expand", "migrate", "contract"), **bodies: str
    ) -> dict[str, Path]:
        with contextlib.redirect_stdout(io.StringIO()):
            made = scaffold.new(self.config, f"change {change}", change, phases)
        out: dict[str, Path] = {}
        for m in made:
            up = bodies.get(m.phase)
            down = bodies.get(f"{m.phase}_down")
            text = m.path.read_text()
            if up is not None:
                text = _replace_body(text, "upgrade", up)
            if down is not None:
                text = _replace_body(text, "downgrade", down)
            m.path.write_text(text)
            out[m.phase] = m.path
        return out


def _replace_body(text: str, func: str, body: str) -> str:
    head, sep, rest = text.partition(f"def {func}() -> None:\n")
    assert sep, func
    lines = rest.splitlines(keepends=True)
    i = 0
    while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
        i += 1
    new_body = "".join(f"    {ln}\n" for ln in body.strip("\n").splitlines())
    return head + sep + new_body + "\n\n" + "".join(lines[i:])


@pytest.fixture
def factory(tmp_path: Path) -> ProjectFactory:
    return ProjectFactory(tmp_path / "app")


Notes = list[str]


@pytest.fixture
def notes() -> Notes:
    return []


@pytest.fixture
def notify(notes: Notes) -> Callable[[str], None]:
    return notes.append


def run_cli(factory: ProjectFactory, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`expandcontract --database-url URL ARGS` in another process, in the factory's project."""
    return subprocess.run(
        [sys.executable, "-m", "expandcontract", "--database-url", url, *args],
        cwd=factory.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
