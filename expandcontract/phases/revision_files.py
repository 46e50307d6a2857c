"""Why Alembic could not read the revision files, as one line naming the file and the fix.

Alembic's own errors for a broken versions directory are tracebacks from deep inside it (`KeyError:
'deadbeef'` for an unknown `down_revision`, `TypeError: 'NoneType' object is not iterable` for `revision =
None`, `None:None:` for a binary file) or the revision's own exception when importing it runs code that
raises. This reads the files (bytes and `ast`, never executing them) to name the one at fault, and falls
back to the frame of the revision file in the exception's traceback, then to Alembic's message.
"""

from __future__ import annotations

import ast
import re
import traceback
from collections.abc import Iterable
from pathlib import Path

_REVISION_FILE = re.compile(r"^(?!\.\#|__init__).*\.py$")  # the files Alembic reads as revisions


def explain(exc: BaseException, directories: Iterable[Path]) -> str:
    """One line for a failure to load the revisions in `directories`."""
    files = [f for d in directories if d.is_dir() for f in sorted(d.iterdir()) if _is_revision_file(f)]
    raised_in = _revision_frame(exc, files)
    if raised_in is not None and not isinstance(exc, SyntaxError):
        path, line = raised_in
        what = "called sys.exit()" if isinstance(exc, SystemExit) else f"raised {type(exc).__name__}: {_first(exc)}"
        return f"{path}:{line}: the revision file {what} when imported; fix the file (imports run at load time)"
    ids: dict[str, Path] = {}
    downs: list[tuple[Path, object]] = []
    for path in files:
        problem, values = _read(path)
        if problem:
            return problem
        rid = values["revision"]
        if not isinstance(rid, str) or not rid:
            return (
                f"{path}: revision = {rid!r}; a revision file needs a unique string id "
                "(`revision = 'a1b2c3d4e5f6'`, as `expandcontract new` writes it)"
            )
        if rid in ids:
            return f"{path}: revision {rid!r} is also the id of {ids[rid]}; give one of them a new id"
        ids[rid] = path
        if "down_revision" not in values:
            return (
                f"{path}: no down_revision; add `down_revision = None` for a lane's first revision, or the id of "
                "the revision it follows"
            )
        downs.append((path, values["down_revision"]))
    for path, down in downs:
        for d in [down] if isinstance(down, str) else list(down) if isinstance(down, list | tuple) else []:
            if isinstance(d, str) and d not in ids and not any(r.startswith(d) for r in ids):
                return (
                    f"{path}: down_revision {d!r} names no revision file; set it to the id of the revision this one "
                    "follows (see `expandcontract history`), or None for a lane's first revision"
                )
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}: syntax error in revision file ({exc.msg}); fix the file"
    return f"Alembic cannot read the revisions ({type(exc).__name__}: {_first(exc)}); fix the revision files"


def _is_revision_file(path: Path) -> bool:
    return path.is_file() and bool(_REVISION_FILE.match(path.name))


def _read(path: Path) -> tuple[str | None, dict[str, object]]:
    """(a problem, the literal module-level assignments) of one file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"{path}: cannot read the revision file ({exc.strerror}); fix its permissions", {}
    if b"\0" in data:
        return f"{path}: binary content (NUL bytes) in the versions directory; remove the file", {}
    try:
        tree = ast.parse(data, filename=str(path))  # bytes: a coding cookie is honoured
    except SyntaxError as exc:
        return f"{path}:{exc.lineno}: syntax error in revision file ({exc.msg}); fix the file", {}
    values: dict[str, object] = {"revision": None}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and node.value:
                    try:
                        values[target.id] = ast.literal_eval(node.value)
                    except ValueError:
                        values[target.id] = "<computed>"  # only executing the file tells: not ours to judge
    return None, values


def _revision_frame(exc: BaseException, files: list[Path]) -> tuple[Path, int] | None:
    """The innermost traceback frame that is in one of the revision files."""
    names = {str(f.resolve()): f for f in files} | {str(f): f for f in files}
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename in names:
            found = (names[frame.filename], frame.lineno or 0)
    return found


def _first(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else repr(exc)
