"""Every lock and rewrite claim in a rule's metadata, executed on a real PostgreSQL: run the setup, run
the statement inside a transaction, read pg_locks for that transaction before commit, and compare the
table's relfilenode before and after (a new relfilenode = the table was rewritten)."""

from __future__ import annotations

import pytest

from expandcontract.db.connect import connect
from expandcontract.lint.registry import all_rules
from expandcontract.lint.rule import LockCheck
from expandcontract.sql.locks import PG_LOCKS_MODE

CHECKS = [(rule.id, check) for rule in all_rules().values() for check in rule.lock_checks]

STRENGTH = [
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
]


def _scans(conn: object, oid: int) -> int:
    """Sequential scans of the table in this transaction so far."""
    row = conn.execute("SELECT pg_stat_get_xact_numscans(%s)", (oid,)).fetchone()  # type: ignore[attr-defined]
    return int(row[0]) if row else 0


def _filenode(conn: object, oid: int) -> int | None:
    row = conn.execute("SELECT pg_relation_filenode(%s)", (oid,)).fetchone()  # type: ignore[attr-defined]
    return row[0] if row else None


@pytest.mark.integration
@pytest.mark.parametrize(("rule_id", "check"), CHECKS, ids=[f"{r}-{i}" for i, (r, _) in enumerate(CHECKS)])
def test_lock_claim(database_url: str, server_version: int, rule_id: str, check: LockCheck) -> None:
    if not check.min_version <= server_version <= check.max_version:
        pytest.fail(f"test server is PostgreSQL {server_version}; claim needs {check.min_version}+")
    with connect(database_url, autocommit=True) as conn:
        for stmt in check.setup.split(";"):
            if stmt.strip():
                conn.execute(stmt)
        row = conn.execute("SELECT %s::regclass::oid", (check.table,)).fetchone()
        assert row is not None
        oid = row[0]
        before = _filenode(conn, oid)
        if check.fails is not None:
            sql = check.sql
            if sql.startswith("REINDEX SYSTEM"):  # PostgreSQL before 16 wants the database's name
                sql += " " + str(conn.execute("SELECT current_database()").fetchone()[0])  # type: ignore[index]
            with pytest.raises(Exception, match=check.fails):
                conn.execute(sql)
            return
        if check.fails_in_transaction:
            conn.execute("BEGIN")
            with pytest.raises(Exception, match="cannot run inside a transaction block"):
                conn.execute(check.sql)
            conn.execute("ROLLBACK")
            return
        if not check.in_transaction:
            conn.execute(check.sql)
        else:
            conn.execute("BEGIN")
            scans = _scans(conn, oid)
            for stmt in check.sql.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            if check.scan is not None:
                assert (_scans(conn, oid) > scans) == check.scan, f"{rule_id}: {check.sql} scan={not check.scan}"
            modes = [
                r[0]
                for r in conn.execute(
                    "SELECT mode FROM pg_locks WHERE locktype = 'relation' AND relation = %s "
                    "AND pid = pg_backend_pid() AND granted",
                    (oid,),
                ).fetchall()
            ]
            conn.execute("COMMIT")
            if check.lock is not None:
                strongest = max(modes, key=STRENGTH.index)
                assert strongest == PG_LOCKS_MODE[check.lock], f"{rule_id}: {check.sql} took {modes}"
        if check.rewrite is not None:
            after = _filenode(conn, oid)
            assert (after != before) == check.rewrite, f"{rule_id}: {check.sql} rewrite={after != before}"


@pytest.mark.integration
def test_a_not_valid_check_fails_updates_of_rows_that_violate_it(database_url: str) -> None:
    """not-valid-check-before-backfill: NOT VALID skips the scan but checks every new row version, so an
    UPDATE of an old row (of any column) fails until the backfill fills it; a default at ADD COLUMN does."""
    with connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int, note text); INSERT INTO t VALUES (1, 'a')")
        conn.execute("ALTER TABLE t ADD COLUMN c boolean")
        conn.execute("ALTER TABLE t ALTER COLUMN c SET DEFAULT false")  # new rows only: old ones stay NULL
        conn.execute("ALTER TABLE t ADD CONSTRAINT t_c_nn CHECK (c IS NOT NULL) NOT VALID")
        with pytest.raises(Exception, match="violates check constraint"):
            conn.execute("UPDATE t SET note = 'b' WHERE id = 1")
        conn.execute("ALTER TABLE t ADD COLUMN d boolean DEFAULT false")
        conn.execute("ALTER TABLE t ADD CONSTRAINT t_d_nn CHECK (d IS NOT NULL) NOT VALID")
        conn.execute("UPDATE t SET c = false, note = 'c' WHERE id = 1")  # the backfill reached it: fine


@pytest.mark.integration
def test_statements_before_an_autocommit_block_stay_committed_when_it_fails(database_url: str) -> None:
    """statements-before-autocommit-block: the block's COMMIT makes what ran before it permanent; when the
    block then fails, a rerun of the revision fails on those statements."""
    with connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (1)")
        conn.execute("BEGIN")
        conn.execute("ALTER TABLE t ADD COLUMN c int")
        conn.execute("COMMIT")  # autocommit_block()
        with pytest.raises(Exception, match="could not create unique index"):
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY t_id ON t (id)")
        with pytest.raises(Exception, match="already exists"):
            conn.execute("ALTER TABLE t ADD COLUMN c int")  # the rerun


@pytest.mark.integration
def test_type_names_print_as_postgresql_prints_them(database_url: str) -> None:
    from expandcontract.sql.nodes import type_spec
    from expandcontract.sql.parse import parse

    types = ["interval(3)", "interval day to second(2)", "timestamp(3) with time zone", "varchar(20)",
             "numeric(12,2)", "time(2)", "int", "bit varying(5)", "text[]", "char(3)", "double precision"]  # fmt: skip
    with connect(database_url, autocommit=True) as conn:
        for typ in types:
            conn.execute(f"CREATE TEMP TABLE ty (c {typ})")
            (pg,) = conn.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'ty'::regclass "
                "AND attname = 'c'"
            ).fetchone()  # type: ignore[misc]
            conn.execute("DROP TABLE ty")
            stmt = parse(f"ALTER TABLE t ALTER COLUMN c TYPE {typ}").statements[0]
            mine = type_spec(stmt.node["cmds"][0]["AlterTableCmd"]["def"]["ColumnDef"]["typeName"])
            assert str(mine) == pg, typ


FACT_TESTS = {  # catalogue rules whose fact is not a lock or rewrite of one statement
    "statements-before-autocommit-block": test_statements_before_an_autocommit_block_stay_committed_when_it_fails,
}


def test_every_catalogue_rule_has_an_executed_claim() -> None:
    ids = {r for r, _ in CHECKS} | set(FACT_TESTS)
    catalogue = {r.id for r in all_rules().values() if r.kind == "catalogue"}
    assert catalogue - ids == set()


def test_every_lock_a_message_names_is_an_executed_claim() -> None:
    """The lock mode at the start of each rendered finding's `lock` (SQL flag cases) must be a mode one
    of the rule's executed checks proved."""
    from expandcontract.lint.api import lint_sql
    from tests.lint.rule_cases import FLAG, options

    rules = all_rules()
    checked = 0
    for sql, _, opts in FLAG:
        for f in lint_sql(sql, "m.sql", options(opts)):
            rule = rules[f.rule]
            if f.lock is None or not rule.lock_checks:
                continue
            mode = f.lock.split(" lock on ")[0]
            assert mode in {c.lock for c in rule.lock_checks}, (f.rule, f.lock)
            checked += 1
    assert checked >= 40
