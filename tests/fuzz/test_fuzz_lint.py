"""`lint -` on fuzzed SQL: always exit 0, 1 or 2, never an uncaught exception, one line on error, and
under `--format json` exactly one JSON document on stdout."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from expandcontract.cli import cli
from tests.fuzz.strategies import FUZZ, sql_text

RUNNER = CliRunner()


def _check(data: bytes, fmt: str) -> None:
    r = RUNNER.invoke(cli, ["lint", "-", "--format", fmt], input=data)
    assert r.exception is None or isinstance(r.exception, SystemExit), (data, r.exception)
    assert r.exit_code in (0, 1, 2), (data, r.exit_code, r.stderr)
    assert "Traceback" not in r.stderr
    if r.exit_code == 2:
        errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
        assert len(errors) == 1, (data, r.stderr)
    if fmt == "json":
        doc = json.loads(r.stdout)  # raises on zero or several documents
        if r.exit_code == 2:
            assert doc["error"]["code"] == 2
        else:
            assert isinstance(doc["findings"], list)
            assert (r.exit_code == 1) == any(f["severity"] == "error" for f in doc["findings"])


@FUZZ
@given(sql=sql_text, fmt=st.sampled_from(["text", "json"]))
def test_lint_stdin_on_fuzzed_sql(sql: str, fmt: str) -> None:
    _check(sql.encode("utf-8", "surrogatepass"), fmt)


@FUZZ
@given(data=st.binary(max_size=200), fmt=st.sampled_from(["text", "json"]))
def test_lint_stdin_on_random_bytes(data: bytes, fmt: str) -> None:
    _check(data, fmt)


def _check_entry_point(data: bytes, fmt: str) -> None:
    """The console script's own path: `main()` takes a lean route for `lint -` that bypasses click."""
    import contextlib
    import io
    import sys

    from expandcontract.cli import main

    out, err = io.StringIO(), io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    saved = sys.stdin
    sys.stdin = stdin
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as stop:
            main(["lint", "-", "--format", fmt])
    finally:
        sys.stdin = saved
    code = stop.value.code
    assert code in (0, 1, 2), (data, code, err.getvalue())
    assert "Traceback" not in err.getvalue()
    if code == 2:
        assert len([ln for ln in err.getvalue().splitlines() if ln.startswith("error: ")]) == 1
    if fmt == "json":
        json.loads(out.getvalue())


@FUZZ
@given(
    data=st.one_of(sql_text.map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary(max_size=200)),
    fmt=st.sampled_from(["text", "json"]),
)
def test_lint_stdin_through_the_console_entry_point(data: bytes, fmt: str) -> None:
    _check_entry_point(data, fmt)
