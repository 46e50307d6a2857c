"""`init` and `new`: lay out the lanes and write linked phase revisions.

Each lane (versions/expand, versions/migrate, versions/contract) is its own base carrying one branch
label; a change's migrate revision depends on its expand, its contract on its migrate (or expand). A
lane that branched off another lane's labelled revision would inherit that label, so lanes never do.
"""

from __future__ import annotations

import re
import shutil
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from expandcontract.config import Config, load_config
from expandcontract.errors import ProjectError, UsageError
from expandcontract.phases import LANES
from expandcontract.phases.project import SLUG, Project, load_project

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


@dataclass(frozen=True)
class NewRevision:
    phase: str
    revision: str
    path: Path


def new(config: Config, message: str, change: str, phases: tuple[str, ...] = LANES) -> list[NewRevision]:
    """Write the revisions of `change` for `phases`, each linked to the change's earlier phases."""
    from alembic import command

    if not SLUG.match(change):
        raise UsageError(
            f"change slug {change!r} is invalid; use lowercase letters, digits and dashes, e.g. users-email-verified"
        )
    if not message.strip():
        raise UsageError('MESSAGE is empty; describe the change, e.g. "add email_verified to users"')
    for p in phases:
        if p not in LANES:
            raise UsageError(f"--phase {p!r} is not one of expand, migrate, contract")
    project = load_project(config)
    existing = project.changes.get(change)
    for p in phases:
        if existing is not None and existing.revision(p) is not None:
            raise UsageError(f"change {change!r} already has a {p} revision ({existing.revision(p).path.name})")  # type: ignore[union-attr]
    ordered = [p for p in LANES if p in phases]
    if "expand" not in ordered and (existing is None or existing.expand is None):
        raise UsageError(f"change {change!r} has no expand revision yet; add it with --phase expand")
    made: list[NewRevision] = []
    acfg = project.alembic_cfg
    prior: dict[str, str] = {}
    if existing is not None:
        prior = {p: r.id for p in LANES if (r := existing.revision(p)) is not None}
    for phase in ordered:
        project = load_project(config)
        head = project.lane_head(phase)
        lane_dir = project.lane_dir(phase)
        lane_dir.mkdir(parents=True, exist_ok=True)
        depends: list[str] = []
        if phase == "migrate" and "expand" in prior:
            depends = [prior["expand"]]
        if phase == "contract":
            # only the latest earlier phase: a redundant dependency (the expand, already implied by the
            # migrate) makes Alembic's version bookkeeping fail with a KeyError on upgrade
            depends = [prior["migrate"]] if "migrate" in prior else [prior[p] for p in ("expand",) if p in prior]
        acfg.attributes["ec_change"] = change
        acfg.attributes["ec_phase"] = phase
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            script = command.revision(
                acfg,
                message=f"{message} ({phase})" if len(ordered) > 1 or phase != "expand" else message,
                head=head.id if head else "base",
                branch_label=None if head else phase,
                version_path=str(lane_dir),
                depends_on=depends or None,  # type: ignore[arg-type]
            )
        assert script is not None and not isinstance(script, list)
        prior[phase] = script.revision
        made.append(NewRevision(phase, script.revision, Path(script.path)))
    return made


def load_for(directory: Path) -> tuple[Config, Project]:
    config = load_config(start=directory)
    return config, load_project(config)
