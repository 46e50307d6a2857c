"""`init`: lay out the lanes in a new project, or add them to an existing Alembic project.

Each lane (versions/expand, versions/migrate, versions/contract) is its own base carrying one branch
label. In an existing project the linear history becomes the expand lane (its base gets the `expand`
label) and the migrate and contract lanes are added as version locations.
"""

from __future__ import annotations

import re
import shutil
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from expandcontract.errors import ProjectError, UsageError
from expandcontract.phases import LANES

CONFIG_TABLE = """
[tool.expandcontract]
alembic_config = "alembic.ini"
# database_url = "postgresql://app@localhost:5432/app"   # else DATABASE_URL, else an embedded server
require_gate = false

[tool.expandcontract.ddl]
lock_timeout_ms = 100
retries = 30

# [tool.expandcontract.rollout]
# kind = "Deployment"
# name = "web"
# namespace = "default"
"""


def _template(name: str) -> str:
    return resources.files("expandcontract").joinpath("templates", name).read_text()


@dataclass(frozen=True)
class InitResult:
    created: list[Path]
    adopted_base: str | None  # existing Alembic history adopted as the expand lane


def init(directory: Path) -> InitResult:
    """New project in `directory`, or add lanes to the Alembic project already there."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    ini = directory / "alembic.ini"
    if ini.exists():
        return _adopt(directory, ini)
    created: list[Path] = []
    migrations = directory / "migrations"
    if migrations.exists() and any(migrations.iterdir()):
        raise UsageError(
            f"{migrations} exists but {ini} does not; run init in an empty directory or an Alembic project"
        )
    ini.write_text(_template("alembic.ini"))
    created.append(ini)
    migrations.mkdir(exist_ok=True)
    for name in ("env.py", "script.py.mako"):
        (migrations / name).write_text(_template(name))
        created.append(migrations / name)
    for lane in LANES:
        lane_dir = migrations / "versions" / lane
        lane_dir.mkdir(parents=True, exist_ok=True)
        (lane_dir / ".gitkeep").touch()
        created.append(lane_dir)
    created.append(_write_config(directory))
    return InitResult(created, None)


def _write_config(directory: Path) -> Path:
    pyproject = directory / "pyproject.toml"
    if pyproject.exists():
        text = pyproject.read_text()
        if "[tool.expandcontract]" not in text:
            pyproject.write_text(text.rstrip("\n") + "\n" + CONFIG_TABLE)
        return pyproject
    pyproject.write_text(CONFIG_TABLE.lstrip("\n"))
    return pyproject


def _adopt(directory: Path, ini: Path) -> InitResult:
    """Existing Alembic project: its linear history becomes the expand lane; migrate and contract
    lanes are added as new version locations."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    created: list[Path] = []
    acfg = AlembicConfig(str(ini))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        script = ScriptDirectory.from_config(acfg)
        bases = script.get_bases()
        heads = script.get_heads()
    if len(bases) > 1 or len(heads) > 1:
        raise ProjectError(
            f"the Alembic history in {script.dir} has {len(bases)} bases and {len(heads)} heads; "
            "merge it into one linear history (`alembic merge heads`) before `expandcontract init`"
        )
    versions = Path(script.versions)
    locations = acfg.get_main_option("version_locations")
    expand_dir = Path(locations.split()[0].replace("%(here)s", str(directory))) if locations else versions
    adopted: str | None = None
    if bases:
        base = script.get_revision(bases[0])
        assert base is not None
        if "expand" not in base.branch_labels:
            _add_branch_label(Path(base.path))
            adopted = base.revision
    lane_dirs = [expand_dir]
    for lane in ("migrate", "contract"):
        lane_dir = Path(script.dir) / "versions" / lane
        lane_dir.mkdir(parents=True, exist_ok=True)
        (lane_dir / ".gitkeep").touch()
        created.append(lane_dir)
        lane_dirs.append(lane_dir)
    _set_version_locations(ini, directory, lane_dirs)
    mako = Path(script.dir) / "script.py.mako"
    shutil.copy(mako, mako.with_suffix(".mako.orig")) if mako.exists() else None
    mako.write_text(_template("script.py.mako"))
    created.append(mako)
    created.append(_write_config(directory))
    return InitResult(created, adopted)


def _add_branch_label(path: Path) -> None:
    text = path.read_text()
    new, n = re.subn(r"^branch_labels(\s*:[^=]*)?\s*=\s*None\s*$", 'branch_labels = ("expand",)', text, flags=re.M)
    if n != 1:
        raise ProjectError(
            f'{path}: could not set branch_labels = ("expand",) on the base revision; set it by hand and re-run init'
        )
    path.write_text(new)


def _set_version_locations(ini: Path, directory: Path, lane_dirs: list[Path]) -> None:
    def rel(p: Path) -> str:
        try:
            return "%(here)s/" + str(p.resolve().relative_to(directory))
        except ValueError:
            return str(p)

    value = ":".join(rel(p) for p in lane_dirs)
    text = ini.read_text()
    lines = [
        ln
        for ln in text.splitlines()
        if not re.match(r"^\s*(version_locations|path_separator|version_path_separator)\s*=", ln)
    ]
    out: list[str] = []
    for ln in lines:
        out.append(ln)
        if ln.strip() == "[alembic]":
            out.append("path_separator = os")
            out.append(f"version_locations = {value}")
    ini.write_text("\n".join(out) + "\n")
