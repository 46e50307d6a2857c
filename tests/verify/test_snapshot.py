"""Catalog snapshots on a real PostgreSQL and the messages their differences produce."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from expandcontract.db.connect import connect
from expandcontract.verify.diff import diff, downgrade_stage, reupgrade_stage
from expandcontract.verify.snapshot import take


@pytest.fixture
def conn(database_url: str) -> Iterator[Any]:
    with connect(database_url, autocommit=True) as c:
        yield c


SCHEMA = """
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    name varchar(40) COLLATE "C",
    m mood
);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
"""


def changes(conn: Any, ddl: str) -> list[str]:
    before = take(conn)
    conn.execute(ddl)
    return diff(before, take(conn), downgrade_stage("3f2a1b"))


def test_each_kind_of_leftover_is_named(conn: Any) -> None:
    conn.execute(SCHEMA)
    found = changes(
        conn,
        """
        CREATE INDEX ix_users_email ON users (email) INCLUDE (name) WHERE email <> '';
        ALTER TABLE users ALTER COLUMN name SET DEFAULT 'x';
        ALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email <> '') NOT VALID;
        ALTER TYPE mood ADD VALUE 'meh';
        CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
        GRANT SELECT ON users TO PUBLIC;
        COMMENT ON COLUMN users.email IS 'login';
        ALTER TABLE users ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON users USING (true);
        CREATE SEQUENCE counter;
        CREATE VIEW v AS SELECT id FROM users;
        """,
    )
    assert sorted(found) == sorted(
        [
            "index ix_users_email still exists after downgrade of 3f2a1b",
            "column users.name: default 'x'::character varying after downgrade, none before",
            "constraint users_email_check on users still exists after downgrade of 3f2a1b",
            "enum type mood: value 'meh' still exists after downgrade of 3f2a1b",
            "trigger users_touch on users still exists after downgrade of 3f2a1b",
            "privilege SELECT on table users to PUBLIC still granted after downgrade of 3f2a1b",
            "comment on table column public.users.email still exists after downgrade of 3f2a1b",
            "table users: row level security enabled after downgrade, row level security disabled before",
            "policy own on users still exists after downgrade of 3f2a1b",
            "sequence counter still exists after downgrade of 3f2a1b",
            "view v still exists after downgrade of 3f2a1b",
        ]
    )


def test_states_of_existing_objects(conn: Any) -> None:
    conn.execute(SCHEMA + "ALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email <> '');")
    conn.execute("CREATE INDEX ix_users_name ON users (name)")
    found = changes(
        conn,
        """
        ALTER TABLE users DROP CONSTRAINT users_email_check;
        ALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email <> '') NOT VALID;
        ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
        UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ix_users_name'::regclass;
        CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN OLD; END$$;
        DROP TYPE mood CASCADE;
        """,
    )
    assert "constraint users_email_check on users: NOT VALID after downgrade, validated before" in found
    assert "column users.email: nullable after downgrade, NOT NULL before" in found
    assert "index ix_users_name: INVALID (a failed CONCURRENTLY build) after downgrade, valid before" in found
    assert any(m.startswith("function touch(): definition after downgrade differs from before") for m in found)
    assert "enum type mood is missing after downgrade of 3f2a1b (it existed before the upgrade)" in found
    assert "column users.m is missing after downgrade of 3f2a1b (it existed before the upgrade)" in found


def test_grant_then_revoke_is_no_difference(conn: Any) -> None:
    """An explicit ACL equal to the default (GRANT then REVOKE) is not a change (acldefault)."""
    conn.execute(SCHEMA)
    assert changes(conn, "GRANT SELECT ON users TO PUBLIC; REVOKE SELECT ON users FROM PUBLIC;") == []
    assert take(conn)["privileges"]["table users"]["grants"]


def test_extension_objects_and_bookkeeping_are_left_out(conn: Any) -> None:
    conn.execute(
        """
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
        CREATE SCHEMA expandcontract;
        CREATE TABLE expandcontract.revision_state (revision text PRIMARY KEY);
        """
    )
    snap = take(conn)
    assert "pg_trgm" in snap["extension"]
    assert not any("trgm" in key for key in snap["function"])
    assert not any("alembic_version" in key for cat in snap.values() for key in cat)
    assert not any("expandcontract" in key for cat in snap.values() for key in cat)


def test_same_objects_recreated_compare_equal(conn: Any) -> None:
    """Keys are names, not OIDs: dropping and re-creating the same objects changes nothing."""
    conn.execute(SCHEMA)
    before = take(conn)
    conn.execute("DROP TABLE users; DROP FUNCTION touch(); DROP TYPE mood;")
    conn.execute(SCHEMA)
    assert diff(before, take(conn), downgrade_stage("x")) == []


def test_reupgrade_wording(conn: Any) -> None:
    conn.execute(SCHEMA)
    before = take(conn)
    conn.execute("DROP FUNCTION touch()")
    assert diff(before, take(conn), reupgrade_stage("3f2a1b")) == [
        "function touch() is missing after upgrading 3f2a1b again (the first upgrade created it)"
    ]
