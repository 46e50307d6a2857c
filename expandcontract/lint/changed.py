"""Which revision files a project lint reports: those changed since a git ref (`--since`), those named
on the command line (pre-commit's staged files), both, or all (None)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from expandcontract.errors import UsageError


def picked_paths(root: Path, since: str | None, only: list[str] | None) -> set[Path] | None:
    changed = changed_since(root, since) if since else None
    if only is not None:
        chosen = {Path(p).resolve() for p in only}
        changed = chosen if changed is None else changed & chosen
    return changed


def changed_since(root: Path, ref: str) -> set[Path]:
    """Files changed since `ref` (committed, staged, unstaged and untracked)."""
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        diff = subprocess.run(
            ["git", "diff", "--name-only", ref, "--"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.split("\n")
        new = subprocess.run(
            ["git", "ls-files", "--others", "--exclude-standard"], cwd=top, capture_output=True, text=True, check=True
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise UsageError(f"--since {ref}: git could not list changed files ({detail.strip()})") from None
    return {(Path(top) / p).resolve() for p in diff + new if p}
