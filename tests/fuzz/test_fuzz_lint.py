"""`lint -` on fuzzed SQL: always exit 0, 1 or 2, never an uncaught exception, one line on error, and
under `--format json` exactly one JSON document on stdout."""

from __future__ import annotations

import json

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
