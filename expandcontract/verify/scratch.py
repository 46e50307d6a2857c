"""Scratch databases for verify, never the application's database.

On the embedded PostgreSQL under `<data dir>/verify` (its own server, fsync off) by default, or on the
server named by verify's own `--database-url`. DATABASE_URL and the config's database are never read.
Every database created here is dropped again (WITH (FORCE)) when the context exits, also on failure or
Ctrl-C; an embedded server this run had to start is stopped again.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from expandcontract.config import Config
from expandcontract.db.connect import connect
from expandcontract.db.url import validate, where, with_database
from expandcontract.errors import UsageError


class ScratchServer:
    """Creates and drops uniquely named databases on one server.

    Cloning a template costs ~100-200 ms even for a small schema, so clones can be started ahead of
    need (`create_soon`) and drops left to a background thread (`drop_soon`); `close` waits for both
    and drops whatever is left.
    """

    def __init__(self, url: str, description: str) -> None:
        self.url = url
        self.description = description
        self.prefix = f"ec_verify_{os.getpid()}_{secrets.token_hex(3)}"
        self.created: list[str] = []
        self.version = ""
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ec-verify-db")

    def name_of(self, suffix: str) -> str:
        return f"{self.prefix}_{suffix}"

    def create(self, suffix: str, template: str | None = None) -> str:
        """A new database (a copy of database `template` if given); returns its URL."""
        name = self.name_of(suffix)
        with self._lock:
            self.created.append(name)
        with connect(self.url, autocommit=True) as conn:
            source = sql.Identifier(self.name_of(template) if template else "template0")
            try:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), source))
            except psycopg.errors.InsufficientPrivilege:
                raise UsageError(
                    f"cannot create scratch databases on {self.description}: permission denied; verify needs a "
                    "role with CREATEDB (ALTER ROLE ... CREATEDB), or leave out --database-url to use its own "
                    "embedded server"
                ) from None
        return with_database(self.url, name)

    def url_of(self, suffix: str) -> str:
        return with_database(self.url, self.name_of(suffix))

    def create_soon(self, suffix: str, template: str | None) -> Future[str]:
        return self._pool.submit(self.create, suffix, template)

    def drop(self, suffix: str) -> None:
        self._drop(self.name_of(suffix))

    def drop_soon(self, suffix: str) -> None:
        self._pool.submit(self._drop, self.name_of(suffix))

    def _drop(self, name: str) -> None:
        with connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        with self._lock:
            if name in self.created:
                self.created.remove(name)

    def close(self) -> None:
        """Wait for background work, then drop every database still there."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            names = list(self.created)
        for name in names:
            self._drop(name)


def embedded_dir(config: Config) -> Path:
    return config.data_path / "verify"


@contextmanager
def scratch_server(config: Config, server_url: str | None) -> Iterator[ScratchServer]:
    """The server verify may create databases on, cleaned up afterwards."""
    started: Path | None = None
    if server_url:
        url = validate(server_url)
        description = f"the server at {where(url)}"
    else:
        from expandcontract.db import embedded

        data_dir = embedded_dir(config)
        if not embedded.status(data_dir).running:
            print(f"starting a scratch PostgreSQL in {data_dir}", file=sys.stderr)
            started = data_dir
        url = embedded.start(data_dir, fast=True)
        description = f"embedded PostgreSQL in {data_dir}"
    server = ScratchServer(url, description)
    try:
        with connect(url, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            server.version = str(row[0]).split()[0] if row else ""
        yield server
    finally:
        try:
            server.close()
        finally:
            if started is not None:
                from expandcontract.db import embedded

                embedded.stop(started)
