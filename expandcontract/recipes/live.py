"""The live schema at the project's heads: a scratch database with every lane head applied, read, dropped.

The project's own database may be behind (or ahead of) the checkout, so `new` never reads it directly.
It creates a scratch database on the same server (the database every command resolves:
`--database-url`, DATABASE_URL, the config's `database_url`, a running embedded server), or, when none
is named or the role may not create databases, on verify's embedded scratch server (started for the
command and stopped again). All heads are applied with the project's own env.py, the catalog is read,
recipe probes run in transactions that are rolled back, and the scratch database is dropped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from expandcontract.db.connect import connect
from expandcontract.errors import ExpandContractError, ProjectError, UsageError
from expandcontract.phases.project import Project
from expandcontract.recipes.base import Probe
from expandcontract.recipes.catalog import Catalog, Refused
from expandcontract.recipes.introspect import read_catalog
from expandcontract.verify.scratch import ScratchServer, scratch_server
from expandcontract.verify.stepper import Stepper, check_env_py


class Live:
    """The scratch database at heads: its catalog, a connection for probes, and its URL."""

    def __init__(self, url: str, conn: psycopg.Connection[Any]) -> None:
        self.url = url
        self.conn = conn
        self.catalog: Catalog = read_catalog(conn)
        conn.commit()

    def probe(self, probes: list[Probe]) -> None:
        """Run each probe in a transaction that is rolled back; the first failure refuses the recipe."""
        for p in probes:
            try:
                with self.conn.transaction(force_rollback=True):
                    self.conn.execute(p.sql)
            except psycopg.Error as exc:
                reason = (exc.diag.message_primary or str(exc)).strip().splitlines()[0]
                raise Refused(f"{p.failure}: PostgreSQL says: {reason}") from None


def _server_url(project: Project, database_url: str | None) -> str | None:
    """The server of the database every command would use, if one is named or running (never started)."""
    from expandcontract.db.resolve import resolve_database

    resolved = resolve_database(database_url, project.config, start_embedded=False)
    return resolved.url or None


@contextmanager
def schema_at_heads(project: Project, database_url: str | None = None) -> Iterator[Live]:
    check_env_py(project)
    url = _server_url(project, database_url)
    if url is not None:
        server = ScratchServer(url, "the project's database server")
        try:
            with _at_heads(project, server) as live:
                yield live
            return
        except _CannotCreate:
            print("the database role may not create databases; using an embedded scratch server", file=sys.stderr)
        finally:
            server.close()
    with scratch_server(project.config, None) as embedded, _at_heads(project, embedded) as live:
        yield live


class _CannotCreate(Exception):
    pass


@contextmanager
def _at_heads(project: Project, server: ScratchServer) -> Iterator[Live]:
    try:
        url = server.create("heads")
    except UsageError as exc:
        if "permission denied" in str(exc):
            raise _CannotCreate from None
        raise
    try:
        heads = list(project.script.get_heads())
        stepper = Stepper(project, url)
        try:
            stepper.upgrade_all(heads)
        except ExpandContractError:
            raise
        except Exception as exc:
            first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ProjectError(
                f"applying the project's revisions to a scratch database failed ({first}); "
                "`expandcontract verify` shows which revision"
            ) from None
        finally:
            stepper.close()
        with connect(url) as conn:
            yield Live(url, conn)
    finally:
        server.drop("heads")
