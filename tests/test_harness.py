from __future__ import annotations

from expandcontract.db.connect import connect


def test_each_test_gets_an_empty_database(database_url: str) -> None:
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
        assert row == (0,)
        conn.execute("CREATE TABLE t (id int)")
