"""`--since GIT_REF`: which revision files changed since a git ref (committed, staged, unstaged or new).

CI passes `--since origin/main` so a pull request verifies only its own revisions, starting from a
template database that already holds everything that did not change.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from expandcontract.errors import UsageError
from expandcontract.phases.project import Project


def _git(cwd: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise UsageError("--since needs git, which is not installed") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["git failed"])[-1]
        raise UsageError(f"git {' '.join(args)} failed in {cwd}: {reason}")
    return done.stdout


def changed_revisions(project: Project, ref: str) -> set[str]:
    """Ids of revisions whose files differ from `ref` or are new (untracked) in the working tree."""
    root = project.root
    try:
        top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    except UsageError:
        raise UsageError(f"--since {ref}: {root} is not inside a git repository") from None
    try:
        _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except UsageError:
        raise UsageError(f"--since {ref}: no such git ref in {top}; try origin/main or a commit hash") from None
    names = _git(top, "diff", "--name-only", "-z", ref, "--").split("\0")
    names += _git(top, "ls-files", "--others", "--exclude-standard", "-z").split("\0")
    paths = {(top / n).resolve() for n in names if n}
    return {rev.id for rev in project.revisions.values() if rev.path.resolve() in paths}


def unchanged_base(project: Project, changed: set[str]) -> set[str]:
    """Revisions the template can hold: neither changed nor needing a changed revision."""
    return {rid for rid in project.revisions if not (project.ancestors([rid]) & changed)}
