"""A link that loses every packet (the loopback of a network namespace taken down, the server up): libpq's
tcp_user_timeout and keepalives end the wait, where the OS alone waits ~15 minutes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from expandcontract.db.url import where

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BOUND_S = 60  # far below the OS's retransmission timeout (~15 min), far above the configured bounds


def socket_of(url: str) -> tuple[str, str]:
    w = where(url)
    if w.host.startswith("/"):
        return w.host, w.port
    if w.host in ("127.0.0.1", "localhost") and Path(f"/var/run/postgresql/.s.PGSQL.{w.port}").exists():
        return "/var/run/postgresql", w.port
    pytest.skip(f"no Unix socket known for {w.host}:{w.port}")


def lost_link(url: str, mode: str, user_timeout_ms: int) -> dict[str, object]:
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs root, unshare and ip for a network namespace")
    sock, port = socket_of(url)
    w = where(url)
    from urllib.parse import unquote, urlsplit

    user = unquote(urlsplit(url).username or "postgres")
    cmd = ["unshare", "-n", sys.executable, "-m", "tests.faults.lost_link", sock, port, w.dbname, user, mode]
    proc = subprocess.run([*cmd, str(user_timeout_ms)], cwd=ROOT, capture_output=True, text=True, timeout=BOUND_S + 30)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_a_statement_sent_into_a_dead_link_fails_by_tcp_user_timeout(database_url: str) -> None:
    result = lost_link(database_url, "send", 3000)
    assert result["error"] and "timed out" in str(result["error"]), result
    assert float(str(result["seconds"])) < BOUND_S, result


def test_a_link_dying_during_a_long_statement_fails_by_keepalives(database_url: str) -> None:
    result = lost_link(database_url, "wait", 0)  # tcp_user_timeout off: the keepalives alone
    assert result["error"] and "timed out" in str(result["error"]), result
    assert float(str(result["seconds"])) < BOUND_S, result
