"""`not-valid-check-before-backfill`: a NOT VALID check that existing rows violate, added before the
change's backfill. Checked on the shipped example (a copy: today's flags, the fixed order does not), on
SQL, and across a change's lanes; the PostgreSQL fact behind it is in test_lock_facts.py."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from expandcontract.config import load_config
from expandcontract.lint.api import LintOptions, lint_sql
from expandcontract.lint.project import lint_project
from tests.lint.conftest import ProjectMaker
from tests.lint.test_alembic_rules import BASE, line_of, lint, rules_in

RULE = "not-valid-check-before-backfill"


def _example(tmp_path: Path) -> Path:
    root = tmp_path / "example"
    shutil.copytree(str(files("expandcontract") / "data" / "example"), root)
    return root


def _flagged(root: Path) -> list[tuple[str, int]]:
    result = lint_project(load_config(root / "pyproject.toml"), LintOptions())
    return [(Path(f.path).name, f.line) for f in result.findings if f.rule == RULE]


NAIVE_EXPAND = """
def upgrade() -> None:
    op.add_column("users", sa.Column("email_verified", sa.Boolean(), nullable=True))
    op.alter_column("users", "email_verified", server_default=sa.false())
    op.execute(
        "ALTER TABLE users ADD CONSTRAINT users_email_verified_not_null "
        "CHECK (email_verified IS NOT NULL) NOT VALID"
    )
"""


def test_the_example_with_its_old_order_is_flagged(tmp_path: Path) -> None:
    """The example as it once shipped: the NOT NULL check in the expand, before the migrate's backfill."""
    root = _example(tmp_path)
    expand = root / "migrations/versions/expand/ex02_users_email_verified.py"
    text = expand.read_text()
    start, end = text.index("def upgrade() -> None:"), text.index("def downgrade() -> None:")
    expand.write_text(text[:start] + NAIVE_EXPAND.lstrip("\n") + "\n\n" + text[end:])
    assert ("ex02_users_email_verified.py", line_of(expand, "op.execute(")) in _flagged(root)


def test_the_shipped_example_with_its_checks_in_the_contracts_is_not_flagged(tmp_path: Path) -> None:
    root = _example(tmp_path)
    assert "NOT VALID" in (root / "migrations/versions/contract/ct02_users_email_verified.py").read_text()
    assert _flagged(root) == []


def test_sql_column_added_without_default() -> None:
    bad = (
        "ALTER TABLE users ADD COLUMN v boolean;\nALTER TABLE users ADD CONSTRAINT v_nn CHECK (v IS NOT NULL) NOT VALID"
    )
    assert [(f.rule, f.line) for f in lint_sql(bad, "m.sql")] == [(RULE, 2)]
    later_default = bad.replace(";\n", ";\nALTER TABLE users ALTER COLUMN v SET DEFAULT false;\n", 1)
    assert [f.rule for f in lint_sql(later_default, "m.sql")] == [RULE]  # SET DEFAULT leaves old rows NULL
    filled = bad.replace("v boolean;", "v boolean DEFAULT false;")
    assert lint_sql(filled, "m.sql") == []
    backfilled = bad.replace(";\n", ";\nUPDATE users SET v = false;\n", 1)
    assert RULE not in {f.rule for f in lint_sql(backfilled, "m.sql")}
    new_table = "CREATE TABLE t (id int);\n" + bad.replace("users", "t")
    assert lint_sql(new_table, "m.sql") == []


def test_a_check_the_migrate_backfill_makes_true_is_flagged_in_the_expand(
    make_project: Callable[[], ProjectMaker],
) -> None:
    p = make_project()
    p.add(BASE, change="base")
    check = (
        'op.create_check_constraint("users_email_lower", "users", "email = lower(email)", postgresql_not_valid=True)'
    )
    ex = p.add(check, change="c1")
    p.add('op.backfill("users", values={"email": "lower(email)"})', phase="migrate", change="c1")
    ex2 = p.add(check.replace("users_email_lower", "users_name_ok").replace("email", "name"), change="c2")
    p.add('op.backfill("users", values={"age": "0"})', phase="migrate", change="c2")
    findings = lint(p)
    assert [(f.line, f.phase) for f in findings if f.rule == RULE and f.path.endswith(ex.name)] == [
        (line_of(ex, "create_check_constraint"), "expand")
    ]
    assert rules_in(findings, ex2) == []  # its migrate backfills another column


def test_a_column_the_change_added_without_default_stays_unfilled_until_the_backfill(
    make_project: Callable[[], ProjectMaker],
) -> None:
    p = make_project()
    p.add(BASE, change="base")
    p.add('op.add_column("users", sa.Column("v", sa.Boolean(), nullable=True))', change="c1")
    check = 'op.execute("ALTER TABLE users ADD CONSTRAINT v_nn CHECK (v IS NOT NULL) NOT VALID")'
    early = p.add(check + '\nop.backfill("users", values={"v": "false"})', phase="migrate", change="c1")
    findings = lint(p)
    assert RULE in rules_in(findings, early)
    p2_root = early.parents[3]
    early.write_text(
        early.read_text().replace(
            check + '\n    op.backfill("users", values={"v": "false"})',
            'op.backfill("users", values={"v": "false"})\n    ' + check,
        )
    )
    assert RULE not in {f.rule for f in lint_project(load_config(None, p2_root), LintOptions()).findings}
