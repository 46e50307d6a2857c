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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from psycopg import sql

from expandcontract.config import Config
from expandcontract.db.connect import connect
from expandcontract.db.url import validate, where, with_database


class ScratchServer:
    """Creates and drops uniquely named databases on one server."""

    def __init__(self, url: str, description: str) -> None:
        self.url = url
        self.description = description
        self.prefix = f"ec_verify_{os.getpid()}_{secrets.token_hex(3)}"
        self.created: list[str] = []
        self.version = ""

    def create(self, suffix: str, template: str | None = None) -> str:
        """A new database (a copy of `template` if given); returns its URL."""
        name = f"{self.prefix}_{suffix}"
        with connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            if template:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
                )
            else:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        if name not in self.created:
            self.created.append(name)
        return with_database(self.url, name)

    def name_of(self, suffix: str) -> str:
        return f"{self.prefix}_{suffix}"

    def drop(self, suffix: str) -> None:
        name = self.name_of(suffix)
        with connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        if not self.created:
            return
        with connect(self.url, autocommit=True) as conn:
            for name in list(self.created):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                self.created.remove(name)


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
            server.drop_all()
        finally:
            if started is not None:
                from expandcontract.db import embedded

                embedded.stop(started)
