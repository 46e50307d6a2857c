"""Sample rows from column types on a real PostgreSQL, and fingerprints that name the damaged column."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from expandcontract.db.connect import connect
from expandcontract.verify import data
from expandcontract.verify.snapshot import take

NAME_CHANGED = (
    "column users.name: values changed by the downgrade of abc (data lost in a column that existed before the upgrade)"
)


@pytest.fixture
def conn(database_url: str) -> Iterator[Any]:
    with connect(database_url, autocommit=True) as c:
        yield c


def test_rows_for_many_types_keys_and_checks(conn: Any) -> None:
    conn.execute(
        """
        CREATE TYPE mood AS ENUM ('happy', 'sad');
        CREATE DOMAIN posint AS int CHECK (VALUE > 0);
        CREATE TABLE orgs (id uuid PRIMARY KEY, name varchar(3) NOT NULL UNIQUE);
        CREATE TABLE people (
            id serial PRIMARY KEY, org_id uuid NOT NULL REFERENCES orgs (id), boss_id int REFERENCES people (id),
            price numeric(5, 2) NOT NULL, code char(1), tags text[], meta jsonb, born date, seen timestamptz,
            ip inet, raw bytea, m mood NOT NULL, n posint, ok boolean NOT NULL DEFAULT false,
            status text NOT NULL CHECK (status IN ('new', 'done')), total int GENERATED ALWAYS AS (n * 2) STORED
        );
        CREATE TABLE log (at timestamptz NOT NULL DEFAULT now(), line text);
        """
    )
    samples = data.insert(conn, data.counter())
    assert samples.notes == []
    assert {t: len(w.rows) for t, w in samples.tables.items()} == {"orgs": 3, "people": 3, "log": 3}
    assert conn.execute("SELECT count(*) FROM people WHERE m IS NULL OR status NOT IN ('new', 'done')").fetchone() == (
        0,
    )
    data.delete(conn, samples)
    assert conn.execute("SELECT (SELECT count(*) FROM people) + (SELECT count(*) FROM orgs)").fetchone() == (0,)


def test_fingerprint_names_the_changed_column_and_lost_rows(conn: Any) -> None:
    conn.execute("CREATE TABLE users (id int PRIMARY KEY, email text, name text)")
    conn.execute("INSERT INTO users VALUES (1, 'seed@example.com', 'seed')")  # not ours: never compared
    snap = take(conn)
    columns = data.shared_columns(snap, snap)
    samples = data.insert(conn, data.counter())
    before = data.fingerprint(conn, columns, samples)
    conn.execute("UPDATE users SET name = upper(name)")
    after = data.fingerprint(conn, columns, samples)
    assert data.compare(before, after, "abc") == [NAME_CHANGED]
    conn.execute("DELETE FROM users WHERE id = 1")
    assert data.compare(before, data.fingerprint(conn, columns, samples), "abc") == [NAME_CHANGED]
    conn.execute("DELETE FROM users WHERE id <> 1 AND id = (SELECT max(id) FROM users)")
    assert data.compare(before, data.fingerprint(conn, columns, samples), "abc") == [
        "table users: 2 of 3 sample rows left after downgrade of abc (rows lost)"
    ]
