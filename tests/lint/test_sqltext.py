"""The fix-text helpers of lint/sqltext.py find what their regular expressions find, on ASCII text (their
str-method path) and on other text (the pattern itself)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from expandcontract.lint import sqltext

# the words and characters the patterns react to, so generated text hits their edge cases
_PIECES = st.sampled_from(
    [
        "check", "CHECK", "Check", "default", "DEFAULT", "not", "NOT", "null", "NULL", "valid", "VALID",
        "index", "INDEX", "references", "constraint", "(", ")", ";", " ", "  ", "\n", "\t", ",", "x", "_",
        "1", "a_check", "checkx", "indexes", "xdefault", "'", "now()", "é", "\x1c", "\x1f", "\x0b", "\r",
    ]
)  # fmt: skip
_RUN = st.lists(_PIECES, max_size=6).map("".join)
# and text shaped like what the patterns look for, with noise between the parts
_SHAPED = st.tuples(
    _RUN,
    st.sampled_from(["check", "CHECK", "default", "index"]),
    st.sampled_from(["", " ", "\n "]),
    st.sampled_from(["(", ""]),
    _RUN,
    st.sampled_from([")", ") not valid", ")NOT  VALID", ") not\nvalid", " not null", " null;"]),
    _RUN,
).map("".join)
TEXT = st.one_of(st.lists(_PIECES, max_size=14).map("".join), _SHAPED)


def _group(pattern: str, text: str) -> str | None:
    m = re.search(pattern, text)
    return m.group(1) if m else None


@settings(max_examples=1500, deadline=None)
@given(TEXT)
def test_every_helper_matches_its_pattern(text: str) -> None:
    assert sqltext.check_expr(text) == _group(sqltext.CHECK_PATTERN, text)
    assert sqltext.check_expr_not_valid(text) == _group(sqltext.CHECK_NOT_VALID_PATTERN, text)
    assert sqltext.default_expr(text) == _group(sqltext.DEFAULT_PATTERN, text)
    assert sqltext.concurrently(text) == re.sub(sqltext.INDEX_PATTERN, "INDEX CONCURRENTLY", text, count=1)


def test_what_the_fix_texts_quote() -> None:
    sql = "ALTER TABLE t ADD CONSTRAINT c CHECK ((a > 0) AND (b > 0)) NOT VALID;"
    assert sqltext.check_expr(sql) == "((a > 0) AND (b > 0))"
    assert sqltext.check_expr_not_valid(sql) == "((a > 0) AND (b > 0))"
    assert sqltext.default_expr("ALTER TABLE t ADD COLUMN c timestamptz DEFAULT clock_timestamp() NOT NULL;") == (
        "clock_timestamp()"
    )
    assert sqltext.default_expr("ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid();") == "gen_random_uuid()"
    assert sqltext.concurrently("create unique index ix on t (a)") == "create unique INDEX CONCURRENTLY ix on t (a)"
    assert sqltext.check_expr("ALTER TABLE t ADD COLUMN checked int") is None
