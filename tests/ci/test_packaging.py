"""Packaging metadata a user and an index read: the version the CLI prints is the package's (from git tags),
classifiers agree with requires-python, the extras and project URLs exist, the hooks file is kept."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import metadata
from pathlib import Path

import yaml

import expandcontract

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "expandcontract")
PEP440 = re.compile(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[a-z0-9.]+)?")


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_version_comes_from_git_and_the_cli_prints_it() -> None:
    project = pyproject()["project"]
    assert isinstance(project, dict) and project["dynamic"] == ["version"] and "version" not in project
    scm = pyproject()["tool"]["setuptools_scm"]  # type: ignore[index]
    assert PEP440.fullmatch(scm["fallback_version"])
    assert PEP440.fullmatch(expandcontract.__version__), expandcontract.__version__
    assert not expandcontract.__version__.startswith("0+")  # installed: the version file or metadata answered
    done = subprocess.run([CLI, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"expandcontract, version {metadata('expandcontract')['Version']}"
    assert metadata("expandcontract")["Version"] == expandcontract.__version__


def test_classifiers_urls_and_extras() -> None:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    minimum = re.fullmatch(r">=3\.(\d+)", project["requires-python"])
    assert minimum is not None
    versions = [int(c.rsplit(".", 1)[1]) for c in project["classifiers"] if re.fullmatch(r".*:: 3\.\d+", c)]
    assert versions and min(versions) == int(minimum[1])
    assert "Typing :: Typed" in project["classifiers"] and (ROOT / "expandcontract" / "py.typed").exists()
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog"} <= set(project["urls"])
    assert set(project["optional-dependencies"]) == {"test", "docs"}
    assert {re.split(r"[<>=]", d)[0] for d in project["optional-dependencies"]["docs"]} == {
        "mkdocs",
        "mkdocs-material",
        "mkdocs-click",
    }
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog\n")


def test_the_pre_commit_hooks_are_kept() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["expandcontract-lint", "expandcontract-lint-sql"]
    assert all(h["entry"] == "expandcontract lint" and h["language"] == "python" for h in hooks)
