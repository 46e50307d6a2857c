from __future__ import annotations

from expandcontract.db.connect import connect


def test_each_test_gets_an_empty_database(database_url: str) -> None:
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
        assert row == (0,)
        conn.execute("CREATE TABLE t (id int)")


def test_test_databases_are_dropped_on_every_server(pg_server_url: str) -> None:
    """The socket URL of the embedded server (`...?host=/dir/pg`) once made the harness drop `pg`, not the
    test database, so every test's database stayed behind."""
    from tests.conftest import create_database, database_name, drop_database

    url = create_database(pg_server_url)
    name = database_name(url)
    assert name.startswith("ec_test_") and name in url
    drop_database(pg_server_url, url)
    with connect(pg_server_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone() == (0,)
