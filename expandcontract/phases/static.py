"""The project read from its revision files without Alembic and without executing them.

`gate`, `serve` and `heads --stamp` need only the revision graph (ids, down revisions, dependencies,
branch labels, `ec_change`/`ec_phase`). Importing Alembic (and with it SQLAlchemy) costs 0.4-0.7 s, most
of a gate decision's whole-process time, and importing each revision runs project code at build time.
So the files are parsed with `ast` and only literal module-level assignments are read. Anything the
parse cannot settle exactly as Alembic would (a computed revision id, a partial id or a branch label in
`depends_on`, recursive version locations) falls back to Alembic's own loader: never a different answer.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
from pathlib import Path
from typing import Any

from expandcontract.config import Config
from expandcontract.errors import ProjectError
from expandcontract.names import LANES
from expandcontract.phases.project import Project, Revision, assemble, load_project, project_problems

_FIELDS = (
    "revision",
    "down_revision",
    "branch_labels",
    "depends_on",
    "ec_change",
    "ec_phase",
    "ec_reversible",
    "ec_reason",
    "ec_safety_assured",
)
_REVISION_FILE = re.compile(r"^(?!\.\#|__init__).*\.py$")  # the files Alembic reads as revisions


class _Unsure(Exception):
    """The files say something only Alembic can interpret: use Alembic."""


def read_project(config: Config, *, validate: bool = True) -> Project:
    """The project as `load_project` would return it (a lazily loaded `script`), read without Alembic when
    the files allow it."""
    try:
        project = _read(config)
    except _Unsure:
        return load_project(config, validate=validate)
    if validate:
        problems = project_problems(project)
        if problems:
            raise ProjectError(problems[0])
    return project


def _read(config: Config) -> Project:
    files = [f for d in _version_locations(config) if d.is_dir() for f in sorted(d.iterdir())]
    raw: dict[str, dict[str, Any]] = {}
    for path in files:
        if not (path.is_file() and _REVISION_FILE.match(path.name)):
            continue
        values = _literals(path)
        rid = values.get("revision")
        if not isinstance(rid, str) or rid in raw or "down_revision" not in values:
            raise _Unsure  # Alembic decides (and load_project names the file at fault)
        raw[rid] = values
    downs = {rid: _ids(v.get("down_revision"), raw) for rid, v in raw.items()}
    revisions: dict[str, Revision] = {}
    for rid in _base_first(downs):
        v = raw[rid]
        revisions[rid] = Revision(
            id=rid,
            lane=_lane(rid, downs, raw),
            path=v["__path__"],
            message=v["__doc__"],
            down_revisions=downs[rid],
            depends_on=_ids(v.get("depends_on"), raw),
            change=v.get("ec_change"),
            phase=v.get("ec_phase"),
            reversible=v.get("ec_reversible", True),
            reason=v.get("ec_reason"),
            safety_assured=dict(v.get("ec_safety_assured") or {}),
        )
    return assemble(config, None, None, revisions)


def _version_locations(config: Config) -> list[Path]:
    ini = config.alembic_ini
    if not ini.is_file():
        raise _Unsure  # load_project says what is missing
    parser = configparser.ConfigParser(defaults={"here": str(ini.parent)})
    try:
        parser.read(ini, encoding="utf-8")
        section = dict(parser.items("alembic"))
    except (configparser.Error, UnicodeDecodeError):
        raise _Unsure from None
    if section.get("recursive_version_locations", "false").strip().lower() in ("true", "1", "yes", "on"):
        raise _Unsure
    location = section.get("script_location", "")
    if not location or ":" in location:
        raise _Unsure  # a package resource (`pkg:dir`): Alembic resolves it
    script_dir = Path(location) if Path(location).is_absolute() else ini.parent / location
    value = section.get("version_locations")
    if not value:
        return [script_dir / "versions"]
    sep = section.get("path_separator") or section.get("version_path_separator")
    if sep is None:
        raise _Unsure  # the legacy splitting rules: Alembic's
    splitter = {"os": os.pathsep, ":": ":", ";": ";"}.get(sep)
    parts = value.split() if sep in ("space", "newline") else value.split(splitter) if splitter else None
    if parts is None:
        raise _Unsure
    return [Path(p.strip()) if Path(p.strip()).is_absolute() else ini.parent / p.strip() for p in parts if p.strip()]


def _literals(path: Path) -> dict[str, Any]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        raise _Unsure from None  # load_project reports it, one line
    values: dict[str, Any] = {"__path__": path.resolve(), "__doc__": ""}
    doc = ast.get_docstring(tree)
    if doc:
        values["__doc__"] = re.split(r"\n\s*\n", doc.strip())[0].strip()
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id in _FIELDS:
                try:
                    values[target.id] = ast.literal_eval(value)  # type: ignore[arg-type]
                except ValueError:
                    raise _Unsure from None  # computed: only executing the file tells
        if isinstance(node, ast.AugAssign | ast.Delete) or (
            isinstance(node, ast.If | ast.For | ast.While | ast.With | ast.Try)
            and any(isinstance(n, ast.Name) and n.id in _FIELDS for n in ast.walk(node))
        ):
            raise _Unsure  # a field that may change at import
    return values


def _ids(value: Any, raw: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    """down_revision / depends_on as full revision ids; a partial id or a branch label is Alembic's to say."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, list | tuple) else None
    if items is None or not all(isinstance(i, str) and i in raw for i in items):
        raise _Unsure
    return tuple(items)


def _base_first(downs: dict[str, tuple[str, ...]]) -> list[str]:
    """Every revision after the ones it revises (a cycle: Alembic reports it)."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(rid: str) -> None:
        if state.get(rid) == 2:
            return
        if state.get(rid) == 1:
            raise _Unsure
        state[rid] = 1
        for d in downs[rid]:
            visit(d)
        state[rid] = 2
        order.append(rid)

    for rid in sorted(downs):
        visit(rid)
    return order


def _lane(rid: str, downs: dict[str, tuple[str, ...]], raw: dict[str, dict[str, Any]]) -> str | None:
    """The lane label of the revision's base, following the first down revision (as load_project does)."""
    cur = rid
    while downs[cur]:
        cur = downs[cur][0]
    labels = raw[cur].get("branch_labels")
    labels = [labels] if isinstance(labels, str) else list(labels or ())
    found = [lb for lb in labels if lb in LANES]
    return found[0] if found else None
