"""`new`: write the linked phase revisions of a change.

Each lane (versions/expand, versions/migrate, versions/contract) is its own base carrying one branch
label; a change's migrate revision depends on its expand, its contract on its migrate (or expand). A
lane that branched off another lane's labelled revision would inherit that label, so lanes never do.

Without bodies every revision gets runnable no-op bodies (`pass` and a TODO). With bodies (a recipe or
`--autogenerate`, rendered by expandcontract.recipes) each gets its docstring, module declarations and
complete upgrade() and downgrade(), written through the project's script.py.mako; a template that does
not render those (one older than recipes, or a project's own) is replaced by expandcontract's for them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from expandcontract.config import Config, load_config
from expandcontract.errors import UsageError
from expandcontract.names import LANES, SLUG
from expandcontract.phases.project import Project, load_project

TEMPLATE_MARKER = "ec_module"  # a script.py.mako that renders recipe bodies mentions it


@dataclass(frozen=True)
class NewRevision:
    phase: str
    revision: str
    path: Path


@dataclass(frozen=True)
class Body:
    """A revision's content: docstring paragraphs, module-level declarations, the two function bodies
    (first line unindented, later lines indented one level)."""

    doc: str
    module: str
    upgrade: str
    downgrade: str
    imports: str = ""  # module-level imports the bodies need (rendered Alembic operations)


def _ignore(_: str) -> None:
    pass


def check_new(config: Config, message: str, change: str, phases: tuple[str, ...] = LANES) -> Project:
    """Refuse a bad slug, an empty message or a phase the change already has (before any work)."""
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
        rev = existing.revision(p) if existing is not None else None
        if rev is not None:
            raise UsageError(f"change {change!r} already has a {p} revision ({rev.path.name})")
    if "expand" not in phases and (existing is None or existing.expand is None):
        raise UsageError(f"change {change!r} has no expand revision yet; add it with --phase expand")
    return project


def new(
    config: Config,
    message: str,
    change: str,
    phases: tuple[str, ...] = LANES,
    *,
    bodies: dict[str, Body] | None = None,
    notify: Callable[[str], None] = _ignore,
) -> list[NewRevision]:
    """Write the revisions of `change` for `phases`, each linked to the change's earlier phases."""
    from alembic import util as alembic_util

    project = check_new(config, message, change, phases)
    existing = project.changes.get(change)
    ordered = [p for p in LANES if p in phases]
    prior: dict[str, str] = {}
    if existing is not None:
        prior = {p: r.id for p in LANES if (r := existing.revision(p)) is not None}
    made: list[NewRevision] = []
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
        acfg = project.alembic_cfg
        acfg.attributes["ec_change"] = change
        acfg.attributes["ec_phase"] = phase
        body = bodies.get(phase) if bodies is not None else None
        extra: dict[str, Any] = {}
        if body is not None:
            acfg.attributes["ec_doc"] = body.doc
            acfg.attributes["ec_module"] = body.module
            extra = {"upgrades": body.upgrade, "downgrades": body.downgrade, "imports": body.imports}
            _use_recipe_template(project, notify, first=phase == ordered[0])
        else:
            acfg.attributes.pop("ec_doc", None)
            acfg.attributes.pop("ec_module", None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            script = project.script.generate_revision(
                alembic_util.rev_id(),
                f"{message} ({phase})" if len(ordered) > 1 or phase != "expand" else message,
                head=head.id if head else "base",
                branch_labels=None if head else phase,
                version_path=str(lane_dir),
                depends_on=depends or None,
                config=acfg,
                **extra,
            )
        assert script is not None
        prior[phase] = script.revision
        made.append(NewRevision(phase, script.revision, Path(script.path)))
    return made


def _use_recipe_template(project: Project, notify: Callable[[str], None], *, first: bool) -> None:
    """Render with expandcontract's template when the project's does not write recipe bodies."""
    own = Path(project.script.dir) / "script.py.mako"
    if own.is_file() and TEMPLATE_MARKER in own.read_text():
        return
    ours = Path(str(resources.files("expandcontract").joinpath("templates", "script.py.mako")))
    if first:
        notify(f"{own} does not write recipe bodies; writing this change with expandcontract's template ({ours})")
    generate = project.script._generate_template

    def with_ours(src: Path, dest: Path, **kw: Any) -> None:
        generate(ours, dest, **kw)

    project.script._generate_template = with_ours  # type: ignore[method-assign]


def load_for(directory: Path) -> tuple[Config, Project]:
    config = load_config(start=directory)
    return config, load_project(config)
