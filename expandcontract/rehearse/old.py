"""The old release: the project as it is at `--old GIT_REF` (or in a directory), read-only.

The tree at the ref is exported (`git archive`) into a temporary directory, so its revision files build
the schema the released code runs on (a revision edited since is rehearsed as it ran, not as edited)
and its models run the old release's traffic. Nothing in the repository changes.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from expandcontract.config import Config, find_config_file, load_config
from expandcontract.errors import UsageError
from expandcontract.phases.project import Project, load_project


@dataclass
class OldRelease:
    label: str  # the ref, or the directory, as the report names it
    root: Path | None  # the project root in the old tree; None: the project did not exist there
    project: Project | None  # None: no Alembic project there yet (an empty schema)
    config: Config | None


def _git(cwd: Path, args: list[str], what: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise UsageError("--old needs git, which is not installed") from None
    if done.returncode != 0:
        reason = (done.stderr.decode(errors="replace").strip().splitlines() or ["git failed"])[-1]
        raise UsageError(f"--old {what}: git {' '.join(args[:2])} failed in {cwd}: {reason}")
    return done.stdout


@contextmanager
def old_release(project: Project, old: str | Path | None) -> Iterator[OldRelease]:
    """`old`: a git ref, a directory holding the old tree's project root, or None (nothing released)."""
    if old is None:
        yield OldRelease("nothing (empty schema)", None, None, None)
        return
    if isinstance(old, Path):
        yield _read(str(old), old)
        return
    root = project.root.resolve()
    try:
        top = Path(_git(root, ["rev-parse", "--show-toplevel"], old).decode().strip())
    except UsageError:
        raise UsageError(f"--old {old}: {root} is not inside a git repository") from None
    try:
        _git(top, ["rev-parse", "--verify", "--quiet", f"{old}^{{commit}}"], old)
    except UsageError:
        raise UsageError(f"--old {old}: no such git ref in {top}; try origin/main, HEAD~1 or a commit hash") from None
    rel = root.relative_to(top.resolve())
    tmp = Path(tempfile.mkdtemp(prefix="ec-rehearse-old-"))
    try:
        archive = (
            _git(top, ["archive", "--format=tar", old, *([str(rel)] if str(rel) != "." else [])], old)
            if _exists(top, old, rel)
            else b""
        )
        if archive:
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(tmp, filter="data")
        tree = tmp / rel
        yield _read(old, tree if tree.is_dir() else None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _exists(top: Path, ref: str, rel: Path) -> bool:
    if str(rel) == ".":
        return True
    done = subprocess.run(
        ["git", "cat-file", "-e", f"{ref}:{rel.as_posix()}"], cwd=top, capture_output=True, check=False
    )
    return done.returncode == 0


def _read(label: str, root: Path | None) -> OldRelease:
    if root is None:
        return OldRelease(label, None, None, None)
    if not root.is_dir():
        raise UsageError(f"--old {label}: {root} is not a directory")
    found = find_config_file(root)
    inside = found is not None and found.resolve().parent == root.resolve()
    config = load_config(found) if inside else Config(root=root.resolve())
    if not config.alembic_ini.is_file():
        return OldRelease(label, root, None, config)
    return OldRelease(label, root, load_project(config, validate=False), config)
