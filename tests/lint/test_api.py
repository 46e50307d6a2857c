"""The linter's public API is pinned: what `expandcontract.lint` exports, and that importing it stays
light (no Alembic / SQLAlchemy until lint_project is used)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import expandcontract.lint as lint


def test_public_api_is_pinned() -> None:
    assert lint.__all__ == sorted(lint.__all__)
    assert lint.__all__ == [
        "Finding", "LintOptions", "LintResult", "all_rules", "get_rule", "lint_paths", "lint_project", "lint_sql",
        "render",
    ]  # fmt: skip
    for name in lint.__all__:
        assert getattr(lint, name) is not None


def test_importing_the_package_does_not_import_alembic() -> None:
    code = "import sys, expandcontract.lint; print(sorted(m for m in ('alembic', 'sqlalchemy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_result_exit_codes() -> None:
    ok = lint.lint_paths(["-"], stdin="ALTER TABLE users ADD COLUMN nick text;")
    bad = lint.lint_paths(["-"], stdin="ALTER TABLE users DROP COLUMN nick;")
    warn = lint.lint_paths(["-"], stdin="-- expandcontract: ignore[drop-table] stale\nSELECT 1;")
    assert (ok.exit_code, bad.exit_code, warn.exit_code) == (0, 1, 0)
    assert bad.to_dict()["files"] == 1


def test_a_file_longer_than_one_read_is_linted_to_its_end(tmp_path: object) -> None:
    """Files are read with os.read in 64 KiB pieces: the statement after the first piece is still seen."""
    from pathlib import Path

    path = Path(str(tmp_path)) / "big.sql"
    filler = "SELECT 1;\n" * 120_000  # 1.2 MB
    path.write_text(filler + "ALTER TABLE users DROP COLUMN email;\n")
    result = lint.lint_paths([str(path)])
    assert [(f.rule, f.line) for f in result.findings] == [("drop-column", 120_001)]


def test_findings_rendered_by_workers_print_after_the_rest_and_count_for_the_exit_code() -> None:
    from expandcontract.lint.api import LintResult
    from expandcontract.lint.render import json_findings, render

    first = lint.lint_sql("ALTER TABLE a DROP COLUMN b;", "a.sql")
    second = lint.lint_sql("ALTER TABLE c RENAME COLUMN d TO e;", "c.sql")
    whole = render("json", first + second, 2)
    tail = LintResult(1, [], json_tail=[json_findings(second)], tail_errors=True)
    merged = LintResult(1, first) + tail
    assert render("json", merged.findings, merged.files, merged.not_analysable, merged.json_tail) == whole
    assert LintResult(1, []).exit_code == 0 and tail.exit_code == 1
    with pytest.raises(ValueError, match="cannot follow"):
        tail + LintResult(1, first)  # findings after rendered ones would print out of order
    with pytest.raises(ValueError, match="cannot be printed as text"):
        render("text", [], 1, 0, ["{}"])


def test_a_file_that_reads_short_before_its_end_is_read_whole() -> None:
    """A read may return less than asked before the end of a regular file (files under /proc hand out a
    page per read): the reader goes on to end of file."""
    from expandcontract.lint.api import _read

    data = _read("/proc/self/maps")  # a Python process with pglast loaded maps far more than a page
    assert len(data) > 4096 and b"[stack]" in data, len(data)
