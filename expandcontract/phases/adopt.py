"""`init`: lay out the lanes in a new project, or adopt an existing Alembic project.

Each lane (versions/expand, versions/migrate, versions/contract) is its own base carrying one branch
label. In an existing project the linear history becomes the expand lane (its base gets the `expand`
label, the files stay where they are) and the migrate and contract lanes are added as version locations.
env.py and script.py.mako are rewritten when they are Alembic's stock files, and otherwise patched (a few
lines, shown as a diff) so that runs record phase state and new revisions carry `ec_change`/`ec_phase`.
`.expandcontract/` (the embedded server's data) goes to .gitignore.

Everything is computed first and written last; if a write fails, what was written is put back, so init
never leaves a half-adopted project. Re-running init on an adopted project only fills what is missing.
"""

from __future__ import annotations

import difflib
import re
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from expandcontract.errors import ProjectError, UsageError
from expandcontract.names import LANES

CONFIG_TABLE = """
[tool.expandcontract]
alembic_config = "alembic.ini"
# database_url = "postgresql://app@localhost:5432/app"   # else DATABASE_URL, else sqlalchemy.url in alembic.ini
require_gate = false

[tool.expandcontract.ddl]
lock_timeout_ms = 100
retries = 30

# [tool.expandcontract.rollout]
# kind = "Deployment"
# name = "web"
# namespace = "default"
"""

GITIGNORE_LINE = ".expandcontract/"

ENV_PATCH = (
    "import expandcontract.env  # expandcontract: one transaction per revision, phase state, the runner's connection\n"
    "\n"
    "expandcontract.env.instrument(context)\n"
)

MAKO_PATCH = """% if config.attributes.get("ec_phase"):

# expandcontract: the change this revision belongs to and its phase.
ec_change = ${repr(config.attributes.get("ec_change"))}
ec_phase = ${repr(config.attributes.get("ec_phase"))}
% if config.attributes.get("ec_phase") == "migrate":
ec_reversible = True  # the undo of a backfill is to leave its values: the expand's downgrade drops them
% endif
% endif
"""

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from alembic.script import Script, ScriptDirectory

STOCK_TEMPLATES = ("generic", "pyproject")  # Alembic's synchronous env.py templates


def _template(name: str) -> str:
    return resources.files("expandcontract").joinpath("templates", name).read_text()


@dataclass(frozen=True)
class FileChange:
    path: Path
    action: str  # "created" | "rewritten" | "patched"
    diff: str = ""  # for patched files: what changed, as a unified diff


@dataclass
class InitResult:
    changes: list[FileChange] = field(default_factory=list)
    adopted_base: str | None = None  # the existing history's base, now labelled `expand`
    found: list[str] = field(default_factory=list)  # what init found, one line each
    already: bool = False  # the project was adopted before: only missing pieces were added

    @property
    def created(self) -> list[Path]:
        return [c.path for c in self.changes]


@dataclass
class _Writes:
    """Planned writes, applied together; on failure everything written is put back."""

    files: dict[Path, tuple[str, str]] = field(default_factory=dict)  # path -> (action, new text)
    dirs: list[Path] = field(default_factory=list)
    diffs: dict[Path, str] = field(default_factory=dict)

    def write(self, path: Path, text: str, action: str | None = None) -> None:
        old = path.read_text() if path.exists() else None
        if old == text:
            return
        act = "created" if old is None else (action or "rewritten")
        if act == "patched" and old is not None:
            self.diffs[path] = "".join(
                difflib.unified_diff(old.splitlines(True), text.splitlines(True), str(path), str(path))
            )
        self.files[path] = (act, text)

    def mkdir(self, path: Path) -> None:
        if not path.is_dir():
            self.dirs.append(path)
            self.write(path / ".gitkeep", "")

    def apply(self) -> list[FileChange]:
        made_dirs: list[Path] = []
        saved: dict[Path, str | None] = {}
        try:
            for d in self.dirs:
                for p in reversed([d, *d.parents]):
                    if not p.exists():
                        p.mkdir()
                        made_dirs.append(p)
            for path, (_, text) in self.files.items():
                saved[path] = path.read_text() if path.exists() else None
                path.write_text(text)
        except OSError as exc:
            for path, old in saved.items():
                if old is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_text(old)
            for p in reversed(made_dirs):
                if p.is_dir() and not any(p.iterdir()):
                    p.rmdir()
            raise UsageError(
                f"init could not write {exc.filename or 'a file'} ({exc.strerror}); nothing was changed"
            ) from None
        changes = [FileChange(d, "created") for d in self.dirs]
        changes += [
            FileChange(p, act, self.diffs.get(p, "")) for p, (act, _) in self.files.items() if p.name != ".gitkeep"
        ]
        return changes


def init(directory: Path) -> InitResult:
    """New project in `directory`, or adopt the Alembic project already there."""
    directory = directory.resolve()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "alembic.ini").exists()
    except OSError as exc:
        raise UsageError(f"cannot use {directory} as a project directory ({exc.strerror}); pick another") from None
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a directory; pass a directory to init")
    ini = directory / "alembic.ini"
    if ini.exists():
        return _adopt(directory, ini)
    migrations = directory / "migrations"
    if migrations.exists() and any(migrations.iterdir()):
        raise UsageError(
            f"{migrations} exists but {ini} does not; run init in an empty directory or an Alembic project"
        )
    w = _Writes()
    w.write(ini, _template("alembic.ini"))
    for name in ("env.py", "script.py.mako"):
        w.write(migrations / name, _template(name))
    for lane in LANES:
        w.mkdir(migrations / "versions" / lane)
    _config(w, directory)
    _gitignore(w, directory)
    result = InitResult(found=["no Alembic project here: created a new one"])
    result.changes = w.apply()
    return result


def _adopt(directory: Path, ini: Path) -> InitResult:
    """Existing Alembic project: its linear history becomes the expand lane; migrate and contract lanes are
    added as new version locations; env.py and script.py.mako learn about phases."""
    from alembic.config import Config as AlembicConfig

    acfg = AlembicConfig(str(ini))
    script, scripts = _read_history(acfg, ini)
    result = InitResult()
    bases, heads = script.get_bases(), script.get_heads()
    labelled = {lb for b in bases if (sc := script.get_revision(b)) is not None for lb in sc.branch_labels}
    result.already = bool(bases) and all(
        any(lb in LANES for lb in sc.branch_labels) for b in bases if (sc := script.get_revision(b)) is not None
    )
    if not result.already and (len(bases) > 1 or len(heads) > 1):
        raise ProjectError(
            f"the Alembic history in {script.dir} has {len(bases)} bases and {len(heads)} heads; "
            "merge it into one linear history (`alembic merge heads`) before `expandcontract init`"
        )
    result.found.append(f"an Alembic project: {ini}")
    if scripts:
        head = script.get_revision(heads[0]) if heads else None
        result.found.append(
            f"{len(scripts)} revision(s) in {', '.join(sorted({str(Path(s.path).parent) for s in scripts}))}"
            + (
                ""
                if result.already
                else f" (base {bases[0]}, head {head.revision if head else '?'}): they become the expand lane"
            )
        )
    else:
        result.found.append("no revisions yet")
    result.found.append(_database_line(directory))
    w = _Writes()
    lane_dirs = _lane_dirs(acfg, script, scripts, directory, result.already, labelled)
    for d in lane_dirs:
        w.mkdir(d)
    if not result.already and bases:
        base = script.get_revision(bases[0])
        assert base is not None
        if "expand" not in base.branch_labels:
            w.write(Path(base.path), _with_branch_label(Path(base.path)), "patched")
            result.adopted_base = base.revision
    w.write(ini, _with_version_locations(ini, directory, lane_dirs), "patched")
    env_py = Path(script.dir) / "env.py"
    result.found.append(_env_py(w, env_py))
    _mako(w, Path(script.dir) / "script.py.mako")
    _config(w, directory)
    _gitignore(w, directory)
    result.changes = w.apply()
    return result


def _read_history(acfg: AlembicConfig, ini: Path) -> tuple[ScriptDirectory, list[Script]]:
    """The ScriptDirectory and every revision, importing each; a revision that fails to import is one line
    naming the file and the error."""
    from alembic import util as alembic_util
    from alembic.script import ScriptDirectory

    from expandcontract.phases.project import revision_file

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            script = ScriptDirectory.from_config(acfg)
            scripts = list(script.walk_revisions())
    except alembic_util.CommandError as exc:
        raise ProjectError(f"Alembic cannot read the revisions of {ini}: {exc}") from None
    except SyntaxError as exc:
        raise ProjectError(f"{exc.filename}:{exc.lineno}: syntax error in revision file ({exc.msg}); fix it") from None
    except Exception as exc:
        where = revision_file(exc) or str(ini.parent)
        raise ProjectError(
            f"{where}: the revision failed to import ({type(exc).__name__}: {exc}); fix it and re-run init"
        ) from None
    return script, scripts


def _database_line(directory: Path) -> str:
    from expandcontract.config import load_config
    from expandcontract.db.resolve import configured_database

    try:
        db = configured_database(None, load_config(start=directory))
    except Exception as exc:  # a bad URL is reported by the command that uses it; init only says what it saw
        return f"database: cannot tell ({exc})"
    if db is None:
        return "database: none configured, so commands use an embedded PostgreSQL under .expandcontract/"
    return f"database: {db.describe()}; every expandcontract command uses it"


def _lane_dirs(
    acfg: AlembicConfig,
    script: ScriptDirectory,
    scripts: list[Script],
    directory: Path,
    already: bool,
    labelled: set[str],
) -> list[Path]:
    """Where each lane lives: the existing history's directories are the expand lane; the others are new."""
    versions = Path(script.dir) / "versions"
    existing = _locations(acfg, directory) or [Path(script.versions)]
    if already:
        dirs = list(existing)
        for lane in LANES:
            if not any(p.name == lane for p in dirs) and lane not in labelled:
                dirs.append(versions / lane)
        return dirs
    expand = existing if scripts else [versions / "expand"]
    return [*expand, versions / "migrate", versions / "contract"]


def _locations(acfg: AlembicConfig, directory: Path) -> list[Path]:
    value = acfg.get_main_option("version_locations")
    if not value:
        return []
    sep = acfg.get_main_option("path_separator") or acfg.get_main_option("version_path_separator")
    parts = value.split() if sep in (None, "space", "newline") else value.split({"os": ":"}.get(sep, sep))
    return [Path(p.replace("%(here)s", str(directory))).resolve() for p in parts if p.strip()]


def _with_branch_label(path: Path) -> str:
    text = path.read_text()
    new, n = re.subn(r"^branch_labels(\s*:[^=]*)?\s*=\s*None\s*$", r'branch_labels\1 = ("expand",)', text, flags=re.M)
    if n != 1:
        raise ProjectError(
            f'{path}: could not set branch_labels = ("expand",) on the base revision; set it by hand and re-run init'
        )
    return new


def _with_version_locations(ini: Path, directory: Path, lane_dirs: list[Path]) -> str:
    def rel(p: Path) -> str:
        try:
            return "%(here)s/" + str(p.resolve().relative_to(directory))
        except ValueError:
            return str(p)

    value = ":".join(rel(p) for p in lane_dirs)
    lines = [
        ln
        for ln in ini.read_text().splitlines()
        if not re.match(r"^\s*(version_locations|path_separator|version_path_separator)\s*=", ln)
    ]
    out: list[str] = []
    for ln in lines:
        out.append(ln)
        if ln.strip() == "[alembic]":
            out.append("path_separator = os")
            out.append("version_path_separator = os")  # the same key before Alembic 1.16
            out.append(f"version_locations = {value}")
    return "\n".join(out) + "\n"


def _stock(name: str) -> set[str]:
    import alembic

    root = Path(alembic.__file__).parent / "templates"
    return {_norm((root / t / name).read_text()) for t in STOCK_TEMPLATES if (root / t / name).is_file()}


def _norm(text: str) -> str:
    return "\n".join(ln.rstrip() for ln in text.strip().splitlines())


def _env_py(w: _Writes, env_py: Path) -> str:
    text = env_py.read_text() if env_py.is_file() else ""
    if "expandcontract" in text:
        return f"{env_py}: already records phase state"
    if not text or _norm(text) in _stock("env.py"):
        w.write(env_py, _template("env.py"))
        return f"{env_py}: Alembic's stock file, rewritten to record phase state"
    m = re.search(r"^from alembic import context[^\n]*\n", text, re.M)
    if m is None:
        raise ProjectError(
            f"{env_py} does not import `context` from alembic, so init cannot patch it; add these lines after "
            f"its imports and re-run init:\n{ENV_PATCH}"
        )
    w.write(env_py, text[: m.end()] + "\n" + ENV_PATCH + text[m.end() :], "patched")
    return f"{env_py}: your own file, patched (two lines) to record phase state"


def _mako(w: _Writes, mako: Path) -> None:
    text = mako.read_text() if mako.is_file() else ""
    if "ec_phase" in text:
        return
    if not text or _norm(text) in _stock("script.py.mako"):
        w.write(mako, _template("script.py.mako"))
        return
    m = re.search(r"^depends_on\b[^\n]*\n", text, re.M)
    if m is None:
        raise ProjectError(
            f"{mako} has no `depends_on = ...` line, so init cannot add ec_change/ec_phase to it; add after the "
            f"revision identifiers and re-run init:\n{MAKO_PATCH}"
        )
    w.write(mako, text[: m.end()] + MAKO_PATCH + text[m.end() :], "patched")


def _config(w: _Writes, directory: Path) -> None:
    if (directory / "expandcontract.toml").is_file():
        return
    pyproject = directory / "pyproject.toml"
    if pyproject.exists():
        text = pyproject.read_text()
        if "[tool.expandcontract]" not in text:
            w.write(pyproject, text.rstrip("\n") + "\n" + CONFIG_TABLE, "patched")
        return
    w.write(pyproject, CONFIG_TABLE.lstrip("\n"))


def _gitignore(w: _Writes, directory: Path) -> None:
    path = directory / ".gitignore"
    text = path.read_text() if path.exists() else ""
    if any(ln.strip().rstrip("/") in (".expandcontract", "/.expandcontract") for ln in text.splitlines()):
        return
    sep = "" if not text or text.endswith("\n") else "\n"
    w.write(path, f"{text}{sep}# expandcontract: the embedded PostgreSQL's data\n{GITIGNORE_LINE}\n", "patched")
