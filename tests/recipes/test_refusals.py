"""What the recipes refuse, each in one line naming what is in the way, read from a real catalog."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from expandcontract.db.connect import connect
from expandcontract.recipes.add_check import AddCheck
from expandcontract.recipes.add_column import AddColumn
from expandcontract.recipes.add_foreign_key import AddForeignKey
from expandcontract.recipes.add_unique import AddUnique
from expandcontract.recipes.base import Recipe
from expandcontract.recipes.catalog import Catalog, Refused
from expandcontract.recipes.change_type import ChangeType
from expandcontract.recipes.drop_column import DropColumn
from expandcontract.recipes.introspect import read_catalog
from expandcontract.recipes.rename_column import RenameColumn
from expandcontract.recipes.set_not_null import SetNotNull
from tests.conftest import create_database, drop_database

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TABLE users (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    email text UNIQUE,
    score integer GENERATED ALWAYS AS (length(name)) STORED,
    secret text
);
CREATE VIEW user_emails AS SELECT email FROM users;
CREATE TABLE posts (id serial PRIMARY KEY, user_id integer REFERENCES users (id), title text, body text);
CREATE TABLE events (id bigint, at tstzrange, room integer, EXCLUDE USING gist (room WITH =, at WITH &&));
CREATE TABLE measurements (id bigint, taken date) PARTITION BY RANGE (taken);
GRANT SELECT (secret) ON users TO PUBLIC;
CREATE FUNCTION posts_sync_headline() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
"""


@pytest.fixture(scope="module")
def catalog(pg_server_url: str) -> Iterator[Catalog]:
    url = create_database(pg_server_url, "ec_refusals")
    try:
        with connect(url, autocommit=True) as conn:
            conn.execute(SCHEMA)
            yield read_catalog(conn)
    finally:
        drop_database(pg_server_url, url)


CASES: list[tuple[Recipe, str]] = [
    (RenameColumn("users.email", "mail"), "view user_emails uses it"),
    (RenameColumn("users.id", "user_id"), "identity column"),
    (RenameColumn("posts.id", "post_id"), "part of the primary key posts_pkey"),
    (RenameColumn("users.score", "points"), "generated column"),
    (RenameColumn("posts.title", "body"), "already has a column 'body'"),
    (RenameColumn("users.name", "full_name"), "generated column score uses it"),
    (RenameColumn("users.secret", "hidden"), "column privileges"),
    (RenameColumn("events.room", "space"), "exclusion constraint"),
    (RenameColumn("measurements.taken", "day"), "partitioned"),
    (RenameColumn("users.nope", "x"), "has no column 'nope'"),
    (RenameColumn("nobody.name", "x"), "no table 'nobody'"),
    (RenameColumn("posts.title", "x" * 64), "not a valid column name"),
    (ChangeType("posts.id", "text"), "only makes smallint, integer or bigint"),
    (ChangeType("users.score", "bigint"), "generated column"),
    (ChangeType("posts.title", "TEXT"), "already text"),
    (ChangeType("users.email", "varchar(100)"), "view user_emails uses it"),
    (ChangeType("posts.title", "integer", using="nosuch + 1"), "uses nosuch"),
    (ChangeType("posts.headline", "text"), "has no column 'headline'"),
    (AddColumn("posts.title", "text"), "already has a column 'title'"),
    (AddColumn("posts.views", "integer", not_null=True), "--not-null needs --default"),
    (AddColumn("posts.seq", "bigserial"), "nextval"),
    (SetNotNull("users.name"), "already NOT NULL"),
    (AddForeignKey("posts.user_id", "users.id"), "already references users"),
    (AddForeignKey("posts.user_id", "users.nope"), "has no column 'nope'"),
    (AddUnique("users.email"), "already unique"),
    (AddUnique("posts.nope"), "has no column 'nope'"),
    (AddCheck("posts", "posts_pkey", "id > 0"), "already has a constraint named posts_pkey"),
    (AddCheck("posts", "posts_title", "nope <> ''"), "uses nope"),
    (DropColumn("posts.id"), "part of the primary key"),
    (DropColumn("users.email"), "view user_emails uses it"),
    (DropColumn("users.id"), "part of the primary key"),
]


@pytest.mark.parametrize(("recipe", "reason"), CASES, ids=[f"{r.flag}-{i}" for i, (r, _) in enumerate(CASES)])
def test_refused_in_one_line(catalog: Catalog, recipe: Recipe, reason: str) -> None:
    with pytest.raises(Refused) as err:
        recipe.check(catalog)
    message = str(err.value)
    assert reason in message
    assert "\n" not in message and err.value.exit_code == 2


def test_foreign_keys_into_a_column_block_its_drop(catalog: Catalog) -> None:
    users = catalog.table("users")
    no_pk = replace(users, constraints=[c for c in users.constraints if c.kind != "p"])
    with pytest.raises(Refused, match="posts_user_id_fkey of posts references it"):
        DropColumn("users.id").check(replace(catalog, tables={**catalog.tables, ("public", "users"): no_pk}))


def test_a_name_the_sync_trigger_needs_is_taken(catalog: Catalog) -> None:
    with pytest.raises(Refused, match="posts_sync_headline already exists"):
        RenameColumn("posts.title", "headline").check(catalog)
