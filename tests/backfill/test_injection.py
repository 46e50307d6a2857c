"""op.backfill's values= and where= are each one SQL expression: a payload that closes the parenthesis and
runs a statement of its own is refused before anything runs (exit 2, one line), a checkpoint row changed
behind our back never reaches a worker, and system catalogs are not backfill targets. Each on a real
PostgreSQL, where the `orders` table must survive; plus a hypothesis fuzz of the arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pglast.parser import parse_sql_json

from expandcontract.backfill import api, sqlcheck
from expandcontract.backfill.errors import BackfillInputError
from expandcontract.backfill.keys import Key, Table
from expandcontract.backfill.spec import Plan, Spec
from expandcontract.db.connect import connect
from tests.backfill.helpers import cli, config, make_table, scalar, touched
from tests.backfill.project import make_project

DROP = "true) ; DROP TABLE orders; SELECT (1"
PAYLOADS = [
    {"where": DROP},
    {"values": {"flag": DROP}},
    {"values": {"flag": "true", "v": "1) ; DELETE FROM orders; SELECT (1"}},
    {"where": "true) AND (SELECT count(*) FROM pg_sleep(0)) > 0 ; TRUNCATE orders; SELECT (true"},
    {"where": "true) FROM orders WHERE (true"},
    {"values": {"flag": "true), v = (0"}},
    {"where": "true -- the rest is a comment"},
]


def orders(url: str) -> None:
    with connect(url) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 5)")
        conn.commit()


def orders_intact(url: str) -> bool:
    return scalar(url, "SELECT count(*) FROM orders WHERE to_regclass('orders') IS NOT NULL") == 5


@pytest.mark.integration
@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: repr(p)[:40])
def test_a_payload_is_refused_before_anything_runs(database_url: str, payload: dict[str, Any]) -> None:
    make_table(database_url, rows=50)
    orders(database_url)
    spec = Spec("chg.items", "items", payload.get("values", {"flag": "true"}), where=payload.get("where"))
    with pytest.raises(BackfillInputError, match="is not one SQL expression") as err:
        api.run(database_url, spec, config(), lambda e: None)
    assert "\n" not in str(err.value) and err.value.exit_code == 2
    assert orders_intact(database_url)
    assert touched(database_url) == {0: 50}
    assert scalar(database_url, "SELECT to_regclass('expandcontract.backfills')") is None  # nothing registered


@pytest.mark.integration
def test_run_migrate_refuses_the_where_payload_with_one_line(database_url: str, tmp_path: Path) -> None:
    make_table(database_url, rows=50)
    orders(database_url)
    make_project(tmp_path, f'op.backfill("items", values={{"verified": "true"}}, where={DROP!r})')
    cfg = str(tmp_path / "pyproject.toml")
    assert cli(database_url, "--config", cfg, "run", "expand").returncode == 0
    r = cli(database_url, "--config", cfg, "run", "migrate")
    assert r.returncode == 2, r.stderr
    assert "is not one SQL expression" in r.stderr and "Traceback" not in r.stderr
    assert orders_intact(database_url)
    assert scalar(database_url, "SELECT count(*) FROM items WHERE verified IS NOT NULL") == 0
    # offline, the same call is refused too (plan renders revisions without a database)
    r = cli(database_url, "--config", cfg, "plan", "migrate")
    assert "DROP TABLE" not in "".join(ln for ln in r.stdout.splitlines() if not ln.lstrip().startswith("--"))


@pytest.mark.integration
@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE expandcontract.backfills SET where_sql = 'true) ; DROP TABLE orders; SELECT (1'",
        'UPDATE expandcontract.backfills SET set_values = \'{"flag": "true) ; DROP TABLE orders; SELECT (1"}\'',
        'UPDATE expandcontract.backfills SET set_values = \'{"flag": "(SELECT count(*) > 0 FROM orders)"}\'',
    ],
    ids=["where", "values", "valid-but-not-the-revisions"],
)
def test_a_worker_never_runs_sql_from_the_checkpoint_row(database_url: str, tmp_path: Path, tamper: str) -> None:
    make_table(database_url, rows=50)
    orders(database_url)
    make_project(tmp_path, 'op.backfill("items", values={"flag": "true"}, name="chg.items")')
    api.register(database_url, Spec("chg.items", "items", {"flag": "true"}))
    with connect(database_url) as conn:
        conn.execute(tamper)
        conn.commit()
    r = cli(database_url, "--config", str(tmp_path / "pyproject.toml"), "backfill", "work", "chg.items")
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().count("\n") == 0 and "this checkout's revision has values={'flag': 'true'}" in r.stderr
    assert orders_intact(database_url)
    assert touched(database_url) == {0: 50}


@pytest.mark.integration
def test_a_worker_refuses_a_name_no_revision_declares(database_url: str, tmp_path: Path) -> None:
    make_table(database_url, rows=5)
    make_project(tmp_path, 'op.backfill("items", values={"flag": "true"}, name="chg.items")')
    api.register(database_url, Spec("other", "items", {"flag": "false"}))
    r = cli(database_url, "--config", str(tmp_path / "pyproject.toml"), "backfill", "work", "other")
    assert r.returncode == 2 and "no op.backfill() named 'other'" in r.stderr and "declared here: chg.items" in r.stderr
    assert touched(database_url) == {0: 5}


@pytest.mark.integration
@pytest.mark.parametrize(
    ("table", "schema", "values"),
    [
        ("pg_class", None, {"relname": "relname"}),
        ("pg_class", "pg_catalog", {"relname": "relname"}),
        ("sql_features", "information_schema", {"comments": "'x'"}),
    ],
)
def test_system_schemas_are_refused(database_url: str, table: str, schema: str | None, values: dict[str, str]) -> None:
    with pytest.raises(BackfillInputError, match="system schema"):
        api.run(database_url, Spec("sys", table, values, schema=schema), config(), lambda e: None)


def test_system_schema_names() -> None:
    assert all(sqlcheck.system_schema(s) for s in ("pg_catalog", "information_schema", "pg_toast", "pg_toast_temp_3"))
    assert not any(sqlcheck.system_schema(s) for s in ("public", "app", "pg_app"))


# -- fuzz ---------------------------------------------------------------------------------------------------
FRAGMENTS = [
    ")", "(", ";", " ", "\n", "'", '"', "--", "/*", "*/", "$$", "$x$", ",", "1", "true", "NULL", "v", "flag",
    "DROP TABLE orders", "SELECT", "FROM orders", "WHERE", "AND", "OR", "UNION", "AS x", "DEFAULT", "E'\\''",
    "lower(v::text)", "(SELECT 1)", "WITH d AS (DELETE FROM orders RETURNING 1)", "COMMIT", "\\", "::int", "=",
]  # fmt: skip
SQLISH = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join) | st.text(max_size=40)
PLAN_TABLE = Table("public", "items", 1, ("id", "v", "flag", "touched"))
PLAN_KEY = Key(("id",), ("bigint",), "items_pkey")


def _statements(text: str) -> list[dict[str, Any]]:
    import json

    stmts: list[dict[str, Any]] = json.loads(parse_sql_json(text))["stmts"]
    return stmts


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=SQLISH, where=st.none() | SQLISH, column=st.sampled_from(["flag", "v", "touched"]))
def test_fuzz_accepted_arguments_always_make_exactly_one_update(value: str, where: str | None, column: str) -> None:
    """2,500 inputs: each is refused with BackfillInputError, or every statement built from it is one
    statement of the expected kind (no other exception, ever)."""
    try:
        sqlcheck.check_arguments({column: value}, where)
    except BackfillInputError as exc:
        assert "\n" not in str(exc)
        return
    plan = Plan("fuzz", PLAN_TABLE, PLAN_KEY, {column: value}, where)
    for composed, kind in (
        (plan.update(["1"], ["100"]), "UpdateStmt"),
        (plan.update(None, ["100"]), "UpdateStmt"),
        (plan.compile_check(), "ExplainStmt"),
    ):
        stmts = _statements(composed.as_string(None))
        assert len(stmts) == 1 and list(stmts[0]["stmt"]) == [kind], composed.as_string(None)


@pytest.mark.integration
def test_fuzz_on_postgresql_the_table_survives(database_url: str) -> None:
    """300 inputs through api.register on a real server: refused or registered, `orders` always intact."""
    make_table(database_url, rows=20)
    orders(database_url)
    seen = {"accepted": 0, "refused": 0}

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(value=SQLISH, where=st.none() | SQLISH)
    @example(value="'\n'", where=None)  # PostgreSQL's message quotes the value: its newline made two lines
    def one(value: str, where: str | None) -> None:
        try:
            api.register(database_url, Spec(f"f{sum(seen.values())}", "items", {"flag": value}, where=where))
            seen["accepted"] += 1
        except BackfillInputError as exc:
            assert "\n" not in str(exc)
            seen["refused"] += 1
        assert orders_intact(database_url)

    one()
    assert seen["refused"] > 0
    assert touched(database_url) == {0: 20}
