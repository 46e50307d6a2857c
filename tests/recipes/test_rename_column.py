"""--rename-column on a populated table: lint, verify, and the deploy under both releases' traffic."""

from __future__ import annotations

import sqlalchemy as sa

from expandcontract.recipes.rename_column import RenameColumn
from tests.recipes.harness import Project, reference_catalog, run_under_traffic
from tests.recipes.traffic import Release

ROWS = 3000
DDL = """
CREATE TABLE users (
    id serial PRIMARY KEY,
    name text NOT NULL DEFAULT 'anon' CHECK (name <> ''),
    email text UNIQUE
);
CREATE INDEX ix_users_name ON users (lower(name));
CREATE UNIQUE INDEX ux_users_email_name ON users (email, name) WHERE email IS NOT NULL
"""
SEED = f"INSERT INTO users (name, email) SELECT 'user ' || g, 'u' || g || '@x' FROM generate_series(1, {ROWS}) g"


def _release(name: str, column: str) -> Release:
    table = sa.Table(
        "users",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(column, sa.Text, nullable=False),
        sa.Column("email", sa.Text),
    )
    values = {column: lambda rng, k: f"{name} {rng.randint(0, 10**9)}"}
    return Release(name, table, "id", values)


def test_rename_under_both_releases(project: Project, pg_server_url: str) -> None:
    project.setup(DDL, "DROP TABLE users", SEED)
    paths = project.new("users-full-name", RenameColumn("users.name", "full_name"))
    assert "TODO" not in "".join(p.read_text() for p in paths.values())
    assert project.lint() == []
    assert project.verify() == []

    def in_sync(phase: str) -> None:
        if phase != "contract":
            assert project.query("SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name") == [(0,)]

    run = run_under_traffic(
        project, "users-full-name", _release("old", "name"), _release("new", "full_name"), rows=ROWS, between=in_sync
    )
    assert run.errors == []
    assert project.catalog() == reference_catalog(
        pg_server_url, DDL + ";ALTER TABLE users RENAME COLUMN name TO full_name"
    )
    final = dict(project.query("SELECT id, full_name FROM users"))
    for worker in run.old.workers + run.new.workers:
        for key, written in worker.written.items():
            assert final[key] == next(iter(written.values())) or final[key] in written.values()
    assert len(final) == ROWS + sum(len(w.inserted) for w in run.old.workers + run.new.workers)
