"""The project as the revision files describe it: lanes, revisions, changes. No database.

A phase revision is an ordinary Alembic revision with `ec_change` and `ec_phase` at module level. Each
lane (expand, migrate, contract) is its own base with one branch label; lanes link only through
`depends_on`. A revision's lane is the branch label of its lane's base.
"""

from __future__ import annotations

import atexit
import importlib
import sys
import traceback
import warnings
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expandcontract.config import Config
from expandcontract.errors import ConfigError, ProjectError
from expandcontract.names import LANES, SLUG
from expandcontract.phases.graph import REVERSIBLE_VALUES, graph_problems, lane_heads

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from alembic.script import Script, ScriptDirectory

__all__ = [
    "REVERSIBLE_VALUES",
    "SLUG",
    "Change",
    "Project",
    "Revision",
    "lane_heads",
    "load_alembic_config",
    "load_project",
    "project_problems",
]


@dataclass(frozen=True)
class Revision:
    id: str
    lane: str | None  # None: not in any lane (a project that was not set up with `init`)
    path: Path
    message: str
    down_revisions: tuple[str, ...]
    depends_on: tuple[str, ...]  # resolved revision ids
    change: str | None
    phase: str | None
    reversible: bool | str = True
    reason: str | None = None
    safety_assured: dict[str, str] = field(default_factory=dict)
    module: Any = field(default=None, repr=False, compare=False)

    @property
    def short(self) -> str:
        return self.id[:12]


@dataclass
class Change:
    slug: str
    expand: Revision | None = None
    migrate: Revision | None = None
    contract: Revision | None = None

    def revision(self, phase: str) -> Revision | None:
        rev: Revision | None = getattr(self, phase)
        return rev

    def revisions(self) -> list[Revision]:
        return [r for r in (self.expand, self.migrate, self.contract) if r is not None]


@dataclass
class Project:
    config: Config
    alembic_cfg_: AlembicConfig | None  # None: read without Alembic (phases/static.py); loaded on first use
    script_: ScriptDirectory | None
    revisions: dict[str, Revision]
    lanes: dict[str, list[Revision]]  # base -> head order
    changes: dict[str, Change]  # in expand-lane order

    @property
    def alembic_cfg(self) -> AlembicConfig:
        if self.alembic_cfg_ is None:
            self.alembic_cfg_ = load_alembic_config(self.config)
        return self.alembic_cfg_

    @property
    def script(self) -> ScriptDirectory:
        if self.script_ is None:
            from alembic.script import ScriptDirectory

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.script_ = ScriptDirectory.from_config(self.alembic_cfg)
        return self.script_

    @property
    def root(self) -> Path:
        return self.config.root

    def lane_head(self, lane: str) -> Revision | None:
        revs = self.lanes.get(lane) or []
        return revs[-1] if revs else None

    def lane_dir(self, lane: str) -> Path:
        """Where new revisions of `lane` go: the lane head's directory, else the version location named after
        the lane (init writes versions/<lane>), else versions/<lane>/ (not a version location: `new` says so)."""
        head = self.lane_head(lane)
        if head is not None:
            return head.path.parent
        locations = [Path(p).resolve() for p in self.script._version_locations]
        named = [p for p in locations if p.name == lane]
        if named:
            return named[0]
        return Path(self.script.dir) / "versions" / lane

    def change(self, slug: str) -> Change:
        if slug not in self.changes:
            known = ", ".join(self.changes) or "none yet"
            raise ProjectError(
                f"unknown change {slug!r} (known: {known}); create it with `expandcontract new MESSAGE --change {slug}`"
            )
        return self.changes[slug]

    def ancestors(self, heads: Iterable[str]) -> set[str]:
        """Every revision implied by `heads`: down revisions and dependencies, transitively."""
        seen: set[str] = set()
        stack = list(heads)
        while stack:
            rid = stack.pop()
            if rid in seen or rid not in self.revisions:
                continue
            seen.add(rid)
            rev = self.revisions[rid]
            stack.extend(rev.down_revisions)
            stack.extend(rev.depends_on)
        return seen

    def ordered(self) -> Iterator[Revision]:
        """All revisions, lane by lane, base to head."""
        for lane in LANES:
            yield from self.lanes.get(lane, [])
        for rev in self.revisions.values():
            if rev.lane is None:
                yield rev


def load_alembic_config(config: Config) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    ini = config.alembic_ini
    if not ini.is_file():
        raise ProjectError(
            f"no Alembic config at {ini}; run `expandcontract init` here, or set alembic_config in "
            "[tool.expandcontract]"
        )
    acfg = AlembicConfig(str(ini))
    loc = acfg.get_main_option("script_location")
    if loc and ":" not in loc and not Path(loc).is_absolute():
        # Alembic resolves a relative script_location against the cwd; we resolve it against the ini
        acfg.set_main_option("script_location", str(ini.parent / loc))
    return acfg


def load_project(config: Config, *, validate: bool = True) -> Project:
    """Read every revision file. Raises ProjectError (exit 2) naming the file and the fix."""
    from alembic import util as alembic_util
    from alembic.script import ScriptDirectory

    acfg = load_alembic_config(config)
    script: ScriptDirectory | None = None
    enter_app_context(config)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            script = ScriptDirectory.from_config(acfg)
            scripts = list(script.walk_revisions())
    except alembic_util.CommandError as exc:
        raise ProjectError(_load_failure(exc, acfg, script, f"Alembic cannot read the revisions: {exc}")) from None
    except (Exception, SystemExit) as exc:  # a revision file that raises (or exits) at import, a broken file
        raise ProjectError(_load_failure(exc, acfg, script, None) + _app_context_hint(exc, config)) from None
    project = _build(config, acfg, script, scripts)
    if validate:
        problems = project_problems(project)
        if problems:
            raise ProjectError(problems[0])
    return project


def _load_failure(exc: BaseException, acfg: AlembicConfig, script: ScriptDirectory | None, default: str | None) -> str:
    from expandcontract.phases.revision_files import explain

    if script is not None:
        directories = [Path(d) for d in script._version_locations]
    else:
        location = acfg.get_main_option("script_location") or ""
        directories = [Path(location) / "versions"]
    line = explain(exc, directories)
    if default is not None and line.startswith("Alembic cannot read the revisions ("):
        return default
    return line


def _app_context_hint(exc: BaseException, config: Config) -> str:
    """A RuntimeError at import (Flask's "Working outside of application context") without a hook: say how."""
    if config.app_context is None and isinstance(exc, RuntimeError):
        return (
            "; if it needs the application initialised (an app context), name a factory in [tool.expandcontract] "
            'app_context = "module:callable"'
        )
    return ""


def revision_file(exc: BaseException) -> str | None:
    """The revision file in the traceback (the innermost frame outside Alembic and the standard library)."""
    frames = [f.filename for f in traceback.extract_tb(exc.__traceback__)]
    ours = [f for f in frames if "site-packages" not in f and "/lib/python" not in f and not f.startswith("<")]
    return ours[-1] if ours else None


def import_failure(exc: BaseException, config: Config) -> ProjectError:
    """`path/to/rev.py: the revision failed to import (ModuleNotFoundError: No module named 'x')`, exit 2."""
    where = revision_file(exc) or str(config.alembic_ini.parent)
    text = (str(exc).strip().splitlines() or [""])[0]
    return ProjectError(
        f"{where}: the revision failed to import ({type(exc).__name__}: {text}); fix it{_app_context_hint(exc, config)}"
    )


_ENTERED: dict[tuple[str, str], ExitStack] = {}


def enter_app_context(config: Config) -> None:
    """Enter the project's `app_context` hook once per process (left at exit): revisions that need the app
    at import time (Flask-Migrate's `current_app`) then import, render and run as under `flask db`."""
    spec = config.app_context
    if not spec or (str(config.root), spec) in _ENTERED:
        return
    module_name, colon, attr = spec.partition(":")
    if not colon or not module_name or not attr:
        raise ConfigError(f'app_context = "{spec}" in {config.source}: give it as "module.path:callable"')
    root = str(config.root)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        factory = getattr(importlib.import_module(module_name), attr)
        made = factory()
    except Exception as exc:
        raise ConfigError(
            f'app_context = "{spec}" in {config.source}: calling it failed ({type(exc).__name__}: {exc}); '
            "it must name a callable returning a context manager (or a Flask app)"
        ) from None
    if not hasattr(made, "__enter__") and callable(getattr(made, "app_context", None)):
        made = made.app_context()  # an app factory (Flask's create_app)
    if not hasattr(made, "__enter__"):
        raise ConfigError(
            f'app_context = "{spec}" in {config.source}: {type(made).__name__} is not a context manager; '
            "return one (e.g. app.app_context())"
        )
    stack = ExitStack()
    stack.enter_context(made)
    _ENTERED[(root, spec)] = stack
    if len(_ENTERED) == 1:
        atexit.register(exit_app_contexts)


def exit_app_contexts() -> None:
    """Leave every app context entered by `enter_app_context` (at exit; tests call it)."""
    while _ENTERED:
        _, stack = _ENTERED.popitem()
        stack.close()


def _label_of_base(script: ScriptDirectory, sc: Script, cache: dict[str, str | None]) -> str | None:
    chain: list[str] = []
    cur: Script | None = sc
    label: str | None = None
    while cur is not None:
        if cur.revision in cache:
            label = cache[cur.revision]
            break
        chain.append(cur.revision)
        downs = cur._versioned_down_revisions
        if not downs:
            labels = [lb for lb in cur.branch_labels if lb in LANES]
            label = labels[0] if labels else None
            break
        cur = script.get_revision(downs[0])
    for rid in chain:
        cache[rid] = label
    return label


def _build(config: Config, acfg: AlembicConfig, script: ScriptDirectory, scripts: list[Script]) -> Project:
    cache: dict[str, str | None] = {}
    revisions: dict[str, Revision] = {}
    for sc in reversed(scripts):  # base first
        module = sc.module
        deps = tuple(
            script.revision_map.get_revision(d).revision  # type: ignore[union-attr]
            for d in (sc._resolved_dependencies or ())
        )
        revisions[sc.revision] = Revision(
            id=sc.revision,
            lane=_label_of_base(script, sc, cache),
            path=Path(sc.path),
            message=(sc.doc or "").strip(),
            down_revisions=tuple(sc._versioned_down_revisions),
            depends_on=deps,
            change=getattr(module, "ec_change", None),
            phase=getattr(module, "ec_phase", None),
            reversible=getattr(module, "ec_reversible", True),
            reason=getattr(module, "ec_reason", None),
            safety_assured=dict(getattr(module, "ec_safety_assured", {}) or {}),
            module=module,
        )
    return assemble(config, acfg, script, revisions)


def assemble(
    config: Config, acfg: AlembicConfig | None, script: ScriptDirectory | None, revisions: dict[str, Revision]
) -> Project:
    """The project from its revisions (base first): lanes in order and changes."""
    lanes: dict[str, list[Revision]] = {lane: [] for lane in LANES}
    # walk each lane from its base following down_revision links (linear when valid)
    children: dict[str, list[str]] = {}
    for rev in revisions.values():
        for d in rev.down_revisions:
            children.setdefault(d, []).append(rev.id)
    for lane in LANES:
        bases = [r for r in revisions.values() if r.lane == lane and not r.down_revisions]
        order: list[Revision] = []
        stack = [b.id for b in bases]
        seen: set[str] = set()
        while stack:
            rid = stack.pop(0)
            if rid in seen:
                continue
            seen.add(rid)
            order.append(revisions[rid])
            stack.extend(children.get(rid, []))
        lanes[lane] = order
    changes: dict[str, Change] = {}
    for lane in LANES:
        for rev in lanes[lane]:
            if rev.change and rev.phase in LANES:
                ch = changes.setdefault(rev.change, Change(rev.change))
                if ch.revision(rev.phase) is None:
                    setattr(ch, rev.phase, rev)
    return Project(config, acfg, script, revisions, lanes, changes)


def project_problems(project: Project) -> list[str]:
    """Structural problems that make running phases unsafe, each one line with its fix (phases/graph.py)."""
    return list(dict.fromkeys(p.line() for p in graph_problems(project)))  # a lane's heads: one line
