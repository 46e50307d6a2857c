"""`new`: write the linked phase revisions of a change.

Each lane (versions/expand, versions/migrate, versions/contract) is its own base carrying one branch
label; a change's migrate revision depends on its expand, its contract on its migrate (or expand). A
lane that branched off another lane's labelled revision would inherit that label, so lanes never do.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from expandcontract.config import Config, load_config
from expandcontract.errors import UsageError
from expandcontract.phases import LANES
from expandcontract.phases.project import SLUG, Project, load_project


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
