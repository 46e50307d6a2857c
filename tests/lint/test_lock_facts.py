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
            for stmt in check.sql.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
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


def test_every_catalogue_rule_has_an_executed_claim() -> None:
    ids = {r for r, _ in CHECKS}
    catalogue = {r.id for r in all_rules().values() if r.kind == "catalogue"}
    assert catalogue - ids == set()


def test_every_lock_a_message_names_is_an_executed_claim() -> None:
    """The lock mode at the start of each rendered finding's `lock` (SQL flag cases) must be a mode one
    of the rule's executed checks proved."""
    from expandcontract.lint.api import lint_sql
    from tests.lint.test_sql_rules import FLAG, _options

    rules = all_rules()
    checked = 0
    for sql, _, opts in FLAG:
        for f in lint_sql(sql, "m.sql", _options(opts)):
            rule = rules[f.rule]
            if f.lock is None or not rule.lock_checks:
                continue
            mode = f.lock.split(" lock on ")[0]
            assert mode in {c.lock for c in rule.lock_checks}, (f.rule, f.lock)
            checked += 1
    assert checked >= 40
