"""The labelled corpus (tests/lint/corpus/*.sql, `-- expect:` on the first line): the linter must find
exactly the expected rule ids in every file. benchmarks/lint_accuracy.py scores the same corpus against
squawk."""

from __future__ import annotations

from pathlib import Path

import pytest

from expandcontract.lint.api import LintOptions, lint_sql
from expandcontract.sql.schema import schema_from_ddl

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.sql"))


def labels(text: str) -> tuple[set[str], str]:
    first = text.splitlines()[0]
    assert first.startswith("-- expect:")
    expected = {r.strip() for r in first.removeprefix("-- expect:").split(",") if r.strip() and r.strip() != "none"}
    mode = "none" if "-- transaction: none" in text else "per-file"
    return expected, mode


def test_corpus_shape() -> None:
    assert len(FILES) >= 80
    safe = [f for f in FILES if not labels(f.read_text())[0]]
    assert len(safe) >= len(FILES) / 3
    from expandcontract.lint.registry import all_rules

    covered = {r for f in FILES for r in labels(f.read_text())[0]}
    assert {r.id for r in all_rules().values() if r.kind == "catalogue" and r.sql_files} <= covered


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_corpus_file(path: Path) -> None:
    schema = schema_from_ddl((CORPUS / "schema.ddl").read_text())
    text = path.read_text()
    expected, mode = labels(text)
    found = {f.rule for f in lint_sql(text, path.name, LintOptions(transaction=mode, schema=schema))}
    assert found == expected
