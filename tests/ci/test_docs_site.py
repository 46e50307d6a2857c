"""The docs site's configuration stays true to docs/ and to the code: every page is in the nav (a page left
out or a nav entry without a page would fail `mkdocs build --strict`, which .ci/run runs), the rule pages in
the nav are exactly the generated ones, and the CLI reference is generated from the real click group."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
import yaml

from expandcontract.lint.docs import render_all

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def nav_pages(entries: list[Any]) -> list[str]:
    pages: list[str] = []
    for entry in entries:
        value = entry if isinstance(entry, str) else next(iter(entry.values()))
        pages.extend(nav_pages(value) if isinstance(value, list) else [value])
    return pages


def mkdocs_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    return config


def test_every_page_under_docs_is_in_the_nav_once() -> None:
    pages = nav_pages(mkdocs_config()["nav"])
    on_disk = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(pages) == on_disk
    assert len(pages) == len(set(pages))


def test_the_rules_section_is_exactly_the_generated_rule_pages() -> None:
    (section,) = [e["Lint rules"] for e in mkdocs_config()["nav"] if isinstance(e, dict) and "Lint rules" in e]
    listed = nav_pages(section)
    assert listed[0] == "rules/README.md"
    assert sorted(listed) == sorted(f"rules/{name}" for name in render_all())


def test_strict_build_checks_links_anchors_and_omitted_pages() -> None:
    config = mkdocs_config()
    assert config["strict"] is True
    assert config["theme"]["name"] == "material"
    assert config["validation"] == {
        "omitted_files": "warn",
        "absolute_links": "warn",
        "unrecognized_links": "warn",
        "anchors": "warn",
    }


def test_the_cli_reference_is_generated_from_the_click_group() -> None:
    text = (DOCS / "cli-reference.md").read_text()
    options = dict(re.findall(r"^\s+:(\w+): (.+)$", text, re.M))
    assert "::: mkdocs-click" in text
    module = __import__(options["module"], fromlist=[options["command"]])
    group = getattr(module, options["command"])
    assert isinstance(group, click.Group)
    assert options["prog_name"] == "expandcontract"
    assert options["list_subcommands"] == "true"
    assert "mkdocs-click" in mkdocs_config()["markdown_extensions"]
