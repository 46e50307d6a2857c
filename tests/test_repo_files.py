"""Files a user reads or runs before the code: docker-compose.yml, README, the public API."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import expandcontract

ROOT = Path(__file__).resolve().parents[1]


def test_docker_compose_names_a_real_postgres_image_and_the_readme_url() -> None:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    svc = doc["services"]["postgres"]
    assert re.fullmatch(r"postgres:\d+", svc["image"])
    env = svc["environment"]
    url = f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@127.0.0.1:5432/{env['POSTGRES_DB']}"
    assert svc["ports"] == ["127.0.0.1:5432:5432"]
    assert url in (ROOT / "README.md").read_text()


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash", 1)[1].split("```", 1)[0]
    commands = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith("expandcontract demo")
    assert "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip" install --quiet -e ".[test]"' in ci and "-m pytest" in ci


def test_public_api_is_pinned() -> None:
    assert expandcontract.__all__ == sorted(expandcontract.__all__)
    assert expandcontract.__all__ == [
        "Classifier",
        "Config",
        "ExpandContractError",
        "PodClass",
        "Project",
        "__version__",
        "load_config",
        "load_project",
        "make_stamp",
        "plan_upgrade",
        "project_status",
        "rehearse",
        "run_downgrade",
        "run_migrations",
        "run_phase",
        "verify_project",
    ]
    for name in expandcontract.__all__:
        assert getattr(expandcontract, name) is not None
