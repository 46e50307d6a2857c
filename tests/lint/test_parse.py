"""The parser layer: positions in multi-byte text, dollar quotes, DO blocks, and never crashing on
arbitrary input (unparsable SQL is a syntax-error finding, not an exception)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from expandcontract.lint.api import lint_sql
from expandcontract.sql.parse import parse


def test_positions_count_characters_not_bytes() -> None:
    parsed = parse("-- café ☕\nSELECT 'é'; DROP TABLE t;")
    assert [(s.kind, s.line, s.column) for s in parsed.statements] == [("SelectStmt", 2, 1), ("DropStmt", 2, 13)]
    err = parse("SELECT 'é';\n  SELEC 1;").error
    assert err is not None and (err.line, err.column) == (2, 3)


def test_dollar_quotes_and_function_bodies_are_opaque() -> None:
    sql = "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $x$ SELECT 'DROP TABLE users; $y$' $x$;"
    assert [s.kind for s in parse(sql).statements] == ["CreateFunctionStmt"]


def test_do_block_in_another_language_is_not_entered() -> None:
    assert [s.kind for s in parse("DO LANGUAGE plperl $$ print 1 $$;").statements] == ["DoStmt"]


def test_nested_do_statements_keep_their_lines() -> None:
    sql = "DO $$\nBEGIN\n  IF true THEN\n    DROP TABLE a;\n  ELSE\n    DROP TABLE b;\n  END IF;\nEND $$;"
    inner = [(s.kind, s.line) for s in parse(sql).statements if s.in_do]
    assert inner == [("DropStmt", 4), ("DropStmt", 6)]


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text: str) -> None:
    findings = lint_sql(text, "m.sql")
    assert all(f.line >= 1 and f.column >= 1 for f in findings)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "ALTER TABLE users DROP COLUMN a;",
                "CREATE INDEX i ON users (a);",
                "SELECT 1;",
                "-- DROP TABLE x\n",
                "BEGIN;",
                "COMMIT;",
                "UPDATE users SET a = 1;",
                "CREATE TABLE users (a int);",
                "DO $$ BEGIN ALTER TABLE users RENAME COLUMN a TO b; END $$;",
            ]
        ),
        max_size=8,
    )
)
def test_statement_sequences_lint_without_error(parts: list[str]) -> None:
    sql = "\n".join(parts)
    findings = lint_sql(sql, "m.sql")
    assert all(f.rule != "syntax-error" for f in findings)
    lines = sql.count("\n") + 1
    assert all(1 <= f.line <= lines for f in findings)


_LEADING_PIECES = st.sampled_from(
    [b" ", b"\t", b"\n", b"\r", b"\x0b", b"\x0c", b"\x1c", b"--", b"/*", b"*/", b"-", b"/", b"*", b"x", b" " * 300]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_LEADING_PIECES, max_size=14).map(b"".join))
def test_leading_skips_what_the_leading_comments_pattern_skips(chunk: bytes) -> None:
    """White space, `--` comments and closed `/* */` comments before a statement, as the regular
    expression it replaced skips them (the scan itself looks at a window at a time)."""
    import re

    from expandcontract.sql.parse import _leading

    pattern = re.compile(rb"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)
    match = pattern.match(chunk)
    assert match is not None and _leading(chunk) == match.end()
