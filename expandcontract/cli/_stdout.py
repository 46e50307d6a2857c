"""Keeping stdout for the one machine-readable document (`--format json|sarif`).

A project's revisions and env.py may print or log to stdout while they are imported, rendered or run
(airflow logs hundreds of lines): under a machine format that text goes to stderr instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stdout_to_stderr(active: bool) -> Iterator[None]:
    """While active, anything written to stdout (print, logging handlers bound to sys.stdout, C extensions
    writing to fd 1) goes to stderr instead."""
    if not active:
        yield
        return
    saved_fd = None
    try:
        fd = sys.stdout.fileno()
        sys.stdout.flush()
        saved_fd = os.dup(fd)
        os.dup2(sys.stderr.fileno(), fd)
    except (AttributeError, OSError, ValueError):  # no real file descriptor (tests' CliRunner)
        fd = -1
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved_fd is not None:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_fd, fd)
            os.close(saved_fd)
