"""Each recipe as one case: generated on a populated table, it lints clean, verifies, runs expand / migrate
/ contract while the old and then the new release write the table, with zero app errors, and leaves the
catalog exactly as the one-statement change would (a database given only that DDL)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from expandcontract.recipes.add_check import AddCheck
from expandcontract.recipes.add_column import AddColumn
from expandcontract.recipes.add_foreign_key import AddForeignKey
from expandcontract.recipes.add_unique import AddUnique
from expandcontract.recipes.base import Recipe
from expandcontract.recipes.drop_column import DropColumn
from expandcontract.recipes.set_not_null import SetNotNull
from tests.recipes.harness import Project, reference_catalog, run_under_traffic
from tests.recipes.traffic import Release

ROWS = 3000


def model(
    name: str, table: str, columns: dict[str, Any], values: dict[str, Callable[[random.Random, int], Any]]
) -> Release:
    cols = [sa.Column("id", sa.Integer, primary_key=True)] + [sa.Column(c, t) for c, t in columns.items()]
    return Release(name, sa.Table(table, sa.MetaData(), *cols), "id", values)


def text(prefix: str) -> Callable[[random.Random, int], str]:
    return lambda rng, k: f"{prefix}{rng.randint(0, 10**12)}"


def maybe_null(prefix: str) -> Callable[[random.Random, int], str | None]:
    return lambda rng, k: None if rng.random() < 0.3 else f"{prefix}{rng.randint(0, 10**6)}"


@dataclass
class Case:
    id: str
    ddl: str  # the app's tables before the change
    seed: str
    recipe: Recipe
    old: Release
    new: Release
    naive: str  # the one-statement change whose catalog is the intended end state
    after_migrate: list[tuple[str, Any]] = field(default_factory=list)  # (query, expected first value)
    drop: str = "DROP TABLE users"


USERS = "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL{extra})"
SEED_USERS = "INSERT INTO users (name{cols}) SELECT 'user ' || g{vals} FROM generate_series(1, " + str(ROWS) + ") g"

CASES = [
    Case(
        "add-column-constant-default-not-null",
        USERS.format(extra=""),
        SEED_USERS.format(cols="", vals=""),
        AddColumn("users.plan", "text", default="'free'", not_null=True),
        model("old", "users", {"name": sa.Text}, {"name": text("o")}),
        model("new", "users", {"name": sa.Text, "plan": sa.Text}, {"name": text("n"), "plan": text("p")}),
        "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free'",
    ),
    Case(
        "add-column-volatile-default-not-null",
        USERS.format(extra=""),
        SEED_USERS.format(cols="", vals=""),
        AddColumn("users.token", "uuid", default="gen_random_uuid()", not_null=True),
        model("old", "users", {"name": sa.Text}, {"name": text("o")}),
        model("new", "users", {"name": sa.Text, "token": sa.Uuid}, {"name": text("n")}),
        "ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()",
        after_migrate=[("SELECT count(*) FROM users WHERE token IS NULL", 0)],
    ),
    Case(
        "set-not-null-with-fill",
        USERS.format(extra=", plan text"),
        SEED_USERS.format(cols=", plan", vals=", CASE WHEN g % 3 = 0 THEN NULL ELSE 'paid' END"),
        SetNotNull("users.plan", fill="'free'"),
        model("old", "users", {"name": sa.Text, "plan": sa.Text}, {"name": text("o"), "plan": maybe_null("p")}),
        model("new", "users", {"name": sa.Text, "plan": sa.Text}, {"name": text("n"), "plan": text("p")}),
        "ALTER TABLE users ALTER COLUMN plan SET NOT NULL",
        after_migrate=[("SELECT count(*) FROM users WHERE plan IS NULL", 0)],
    ),
    Case(
        "add-foreign-key",
        "CREATE TABLE users (id serial PRIMARY KEY, name text); "
        "CREATE TABLE posts (id serial PRIMARY KEY, user_id integer, title text)",
        f"INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, {ROWS}) g; "
        f"INSERT INTO posts (user_id, title) SELECT g, 't' FROM generate_series(1, {ROWS}) g",
        AddForeignKey("posts.user_id", "users.id"),
        model("old", "posts", {"user_id": sa.Integer, "title": sa.Text}, {"user_id": lambda r, k: r.randint(1, ROWS)}),
        model("new", "posts", {"user_id": sa.Integer, "title": sa.Text}, {"user_id": lambda r, k: r.randint(1, ROWS)}),
        "ALTER TABLE posts ADD CONSTRAINT posts_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)",
        drop="DROP TABLE posts; DROP TABLE users",
    ),
    Case(
        "add-unique",
        USERS.format(extra=", email text"),
        SEED_USERS.format(cols=", email", vals=", 'u' || g || '@example.com'"),
        AddUnique("users.email"),
        model("old", "users", {"name": sa.Text, "email": sa.Text}, {"name": text("o"), "email": text("o@")}),
        model("new", "users", {"name": sa.Text, "email": sa.Text}, {"name": text("n"), "email": text("n@")}),
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)",
    ),
    Case(
        "add-check",
        USERS.format(extra=", age integer"),
        SEED_USERS.format(cols=", age", vals=", g % 90"),
        AddCheck("users", "users_age_positive", "age >= 0"),
        model(
            "old",
            "users",
            {"name": sa.Text, "age": sa.Integer},
            {"name": text("o"), "age": lambda r, k: r.randint(0, 99)},
        ),
        model(
            "new",
            "users",
            {"name": sa.Text, "age": sa.Integer},
            {"name": text("n"), "age": lambda r, k: r.randint(0, 99)},
        ),
        "ALTER TABLE users ADD CONSTRAINT users_age_positive CHECK (age >= 0)",
    ),
    Case(
        "drop-column",
        USERS.format(extra=", legacy text NOT NULL CHECK (legacy <> '')")
        + "; CREATE INDEX ix_users_legacy ON users (legacy, name)",
        SEED_USERS.format(cols=", legacy", vals=", 'l' || g"),
        DropColumn("users.legacy"),
        model("old", "users", {"name": sa.Text, "legacy": sa.Text}, {"name": text("o"), "legacy": text("l")}),
        model("new", "users", {"name": sa.Text}, {"name": text("n")}),
        "ALTER TABLE users DROP COLUMN legacy",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_recipe_on_a_populated_table(project: Project, pg_server_url: str, case: Case) -> None:
    project.setup(case.ddl, case.drop, case.seed)
    paths = project.new(case.id, case.recipe)
    assert "TODO" not in "".join(p.read_text() for p in paths.values())
    assert project.lint() == []
    assert project.verify() == []

    def check(phase: str) -> None:
        if phase == "migrate":
            for query, expected in case.after_migrate:
                assert project.query(query)[0][0] == expected, query

    run = run_under_traffic(project, case.id, case.old, case.new, rows=ROWS, between=check)
    assert run.errors == []
    assert project.catalog() == reference_catalog(pg_server_url, f"{case.ddl}; {case.naive}")


@pytest.mark.parametrize(
    ("ddl", "seed", "recipe", "message", "fix"),
    [
        (
            USERS.format(extra=", plan text"),
            "INSERT INTO users (name, plan) VALUES ('a', NULL), ('b', 'paid')",
            SetNotNull("users.plan"),
            "users.plan still has NULLs",
            "UPDATE users SET plan = 'free' WHERE plan IS NULL",
        ),
        (
            "CREATE TABLE users (id serial PRIMARY KEY); CREATE TABLE posts (id serial PRIMARY KEY, user_id integer)",
            "INSERT INTO users DEFAULT VALUES; INSERT INTO posts (user_id) VALUES (1), (42)",
            AddForeignKey("posts.user_id", "users.id"),
            "rows of posts have a user_id that is not in users.id",
            "DELETE FROM posts WHERE user_id = 42",
        ),
        (
            USERS.format(extra=", age integer"),
            "INSERT INTO users (name, age) VALUES ('a', 3), ('b', -1)",
            AddCheck("users", "users_age_positive", "age >= 0"),
            "some rows of users fail CHECK (age >= 0)",
            "UPDATE users SET age = 0 WHERE age < 0",
        ),
    ],
    ids=["null-left", "orphan", "violating-row"],
)
def test_the_contract_checks_the_rows_first_and_changes_nothing(
    project: Project, ddl: str, seed: str, recipe: Recipe, message: str, fix: str
) -> None:
    """A row that breaks the rule fails the contract before its NOT VALID constraint exists, so the old
    rows stay writable; once the rows are fixed the contract runs."""
    from expandcontract.errors import PhaseFailed

    project.setup(ddl, "DROP TABLE IF EXISTS posts; DROP TABLE users", seed)
    project.new("rule", recipe)
    project.run("expand", "rule")
    project.run("migrate", "rule")
    before = project.catalog()
    with pytest.raises(PhaseFailed, match=re.escape(message)):
        project.run("contract", "rule")
    assert project.catalog() == before
    project.query_commit(fix)
    project.run("contract", "rule")
