"""The .sql path loads pglast's parser without executing pglast.enums / pglast.ast, and every pglast API
still works afterwards in the same process (they execute on first use)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CODE = """
import sys, types
from expandcontract.lint.api import lint_sql
assert [f.rule for f in lint_sql("DROP TABLE t;", "m.sql")] == ["drop-table"]
assert type(sys.modules["pglast.enums"]) is not types.ModuleType, "pglast.enums was executed"
assert "pglast.enums.parsenodes" not in sys.modules
import pglast
assert "parse_sql" in dir(pglast) and "ObjectType" in dir(sys.modules["pglast.enums"])  # listing runs them
from pglast.enums import ObjectType
from pglast.stream import RawStream
assert ObjectType.OBJECT_TABLE.name == "OBJECT_TABLE"
assert RawStream()(pglast.parse_sql("select 1")) == "SELECT 1"
assert type(pglast.parse_sql("select 1")[0].stmt).__name__ == "SelectStmt"
from expandcontract.recipes import sqltext  # a user of the node API
print("OK")
"""


def test_pglast_node_api_works_after_the_lazy_parser_import() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CODE],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert proc.stdout.strip() == "OK", proc.stderr


THREADS = """
import sys, threading
from expandcontract.lint.api import lint_sql
lint_sql("DROP TABLE t;", "m.sql")  # the parser is loaded; pglast, its enums and ast are not run yet
import pglast
start = threading.Barrier(8)
errors = []
def use():
    start.wait()
    try:
        assert pglast.enums.ObjectType.OBJECT_TABLE.name == "OBJECT_TABLE"
        assert pglast.ast.SelectStmt.__name__ == "SelectStmt"
        assert type(pglast.parse_sql("select 1")[0].stmt).__name__ == "SelectStmt"
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=use) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("ERRORS", errors)
"""


def test_threads_that_first_use_pglast_at_once_all_see_it_whole() -> None:
    """One thread runs a deferred module's code; the others wait for it instead of reading a half-run
    module (a name not defined yet)."""
    for _ in range(3):
        proc = subprocess.run(
            [sys.executable, "-c", THREADS],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        assert proc.stdout.strip() == "ERRORS []", proc.stdout + proc.stderr
