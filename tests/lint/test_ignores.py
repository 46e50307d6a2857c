"""Ignores: a reason is required, they apply to the next statement (or the whole file), and an ignore
that suppresses nothing is reported."""

from __future__ import annotations

from expandcontract.lint.api import LintOptions, lint_sql


def rules(sql: str, **opts: object) -> list[tuple[str, int, str]]:
    return [(f.rule, f.line, f.severity) for f in lint_sql(sql, "m.sql", LintOptions(**opts))]  # type: ignore[arg-type]


def test_ignore_applies_to_the_next_statement_only() -> None:
    sql = (
        "-- expandcontract: ignore[drop-column] email moved to accounts in v12\n"
        "-- another comment\n\n"
        "ALTER TABLE users DROP COLUMN email;\n"
        "ALTER TABLE users DROP COLUMN phone;\n"
    )
    assert rules(sql) == [("drop-column", 5, "error")]


def test_ignore_several_rules_and_file_level() -> None:
    sql = (
        "-- expandcontract: ignore-file[drop-table] importer scratch tables\n"
        "DROP TABLE scratch_a;\n"
        "-- expandcontract: ignore[create-index-non-concurrently, backfill-in-ddl-transaction] 20 rows\n"
        "CREATE INDEX i ON settings (k);\n"
        "DROP TABLE scratch_b;\n"
    )
    assert rules(sql) == [("unused-ignore", 3, "warning")]  # backfill-in-ddl-transaction suppressed nothing


def test_ignore_without_reason_is_invalid_and_suppresses_nothing() -> None:
    sql = "-- expandcontract: ignore[drop-table]\nDROP TABLE t;\n"
    assert rules(sql) == [("ignore-without-reason", 1, "error"), ("drop-table", 2, "error")]


def test_unused_ignore_and_its_severity_can_change() -> None:
    sql = "-- expandcontract: ignore[drop-table] not needed\nSELECT 1;\n"
    assert rules(sql) == [("unused-ignore", 1, "warning")]
    assert rules(sql, severity={"unused-ignore": "error"}) == [("unused-ignore", 1, "error")]
    assert rules(sql, ignore=("unused-ignore",)) == []


def test_trailing_ignore_and_block_comment() -> None:
    sql = "DROP TABLE t; -- expandcontract: ignore[drop-table] replaced by t2 in v3\n"
    assert rules(sql) == []
    sql2 = "/* expandcontract: ignore[drop-table] replaced */\nDROP TABLE t;\n"
    assert rules(sql2) == []


def test_ignore_text_inside_a_string_is_not_an_ignore() -> None:
    sql = "INSERT INTO notes VALUES ('# expandcontract: ignore[drop-table] x');\nDROP TABLE t;\n"
    assert [r for r, _, _ in rules(sql)] == ["drop-table"]
