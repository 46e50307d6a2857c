"""A lock-budget report names the blocking session by pid, application_name, lock, age and a fingerprint
of its query: never the query text (another application's SQL, with its data), in the message, the
exception's blockers or the audit table."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from expandcontract.db.connect import connect
from expandcontract.errors import LockBudgetExhausted
from expandcontract.phases.locks import query_fingerprint
from expandcontract.phases.run import run_phase
from tests.phases.conftest import ProjectFactory
from tests.phases.test_runner import TABLE, _fast, holding

SECRET = "Zq7hunXk9ter-api-token"


def test_blocker_report_carries_a_fingerprint_not_the_sql(
    factory: ProjectFactory, database_url: str, notify: Callable[[str], None]
) -> None:
    factory.new("users", phases=("expand",), expand=TABLE)
    factory.new("users-email", phases=("expand",), expand='op.execute("ALTER TABLE users ADD COLUMN email text")')
    project = _fast(
        factory.project(), holder_wait_s=0.0, lock_timeout_ms=20, retries=2, retry_base_ms=10, retry_max_ms=20
    )
    run_phase(project, database_url, "expand", "users", notify=notify)
    holder_sql = f"SELECT * FROM users WHERE name = '{SECRET}'"
    with (
        holding(database_url, holder_sql, seconds=2.0, app="reporting-job"),
        pytest.raises(LockBudgetExhausted) as err,
    ):
        run_phase(project, database_url, "expand", None, notify=notify)
    msg = str(err.value)
    (blocker,) = err.value.blockers
    assert SECRET not in msg and SECRET not in repr(err.value.blockers)
    assert "reporting-job" in msg and "AccessShareLock on users" in msg and f"pid {blocker['pid']}" in msg
    assert blocker["query_fingerprint"] == query_fingerprint(holder_sql) != ""
    assert f"query fingerprint {blocker['query_fingerprint']}" in msg
    with connect(database_url) as conn:
        rows = conn.execute("SELECT r::text FROM expandcontract.runs r").fetchall()
    assert rows and not any(SECRET in r[0] for r in rows)


def test_fingerprint_is_stable_across_constants_and_hides_unparsable_text() -> None:
    assert query_fingerprint("SELECT * FROM t WHERE a = 'x'") == query_fingerprint("select * from t where a='y'")
    assert query_fingerprint("SELECT 1") != query_fingerprint("SELECT * FROM t")
    truncated = f"UPDATE t SET token = '{SECRET}' WHERE id IN (1, 2, "  # cut at track_activity_query_size
    fp = query_fingerprint(truncated)
    assert fp.startswith("h") and SECRET not in fp and fp == query_fingerprint(truncated.replace(SECRET, "other"))
    assert query_fingerprint("  ") == ""
