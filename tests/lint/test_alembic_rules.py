"""Per rule, as Alembic ops: revisions written into a temporary project and linted one by one, in lane
order, knowing what earlier revisions created, each op's existing_type, phase and transaction state."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from expandcontract.config import Config
from expandcontract.lint.api import LintOptions
from expandcontract.lint.finding import Finding
from expandcontract.lint.project import lint_project
from tests.lint.conftest import ProjectMaker

BASE = """
op.create_table("users", sa.Column("id", sa.BigInteger(), primary_key=True), sa.Column("email", sa.String(100)),
                sa.Column("name", sa.Text()), sa.Column("age", sa.Integer()))
op.create_table("orders", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("user_id", sa.BigInteger()),
                sa.Column("total", sa.Integer()))
"""


def lint(maker: ProjectMaker, **opts: object) -> list[Finding]:
    return lint_project(Config(root=maker.root), LintOptions(**opts)).findings  # type: ignore[arg-type]


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def rules_in(findings: list[Finding], path: Path) -> list[str]:
    return sorted(f.rule for f in findings if f.path.endswith(path.name))


# (ops in an unphased revision after BASE, expected rule ids)
UNPHASED: list[tuple[str, list[str]]] = [
    ('op.drop_column("users", "email")', ["drop-column"]),
    ('op.drop_table("orders")', ["drop-table"]),
    ('op.alter_column("users", "name", new_column_name="full_name")', ["rename-column"]),
    ('op.rename_table("orders", "purchases")', ["rename-table"]),
    ('op.alter_column("users", "age", type_=sa.BigInteger(), existing_type=sa.Integer())', ["change-column-type"]),
    ('op.alter_column("users", "email", type_=sa.String(50))', ["change-column-type"]),  # earlier revision's type
    (
        'op.add_column("users", sa.Column("k", sa.Uuid(), server_default=sa.text("gen_random_uuid()")))',
        ["add-column-volatile-default"],
    ),
    ('op.add_column("users", sa.Column("tenant", sa.BigInteger(), nullable=False))', ["add-required-column"]),
    ('op.add_column("users", sa.Column("seq", sa.BigInteger(), sa.Identity()))', ["add-serial-column"]),
    (
        'op.add_column("orders", sa.Column("c", sa.BigInteger(), sa.Computed("total * 100")))',
        ["add-generated-stored-column"],
    ),
    ('op.create_index("ix_users_email", "users", ["email"])', ["create-index-non-concurrently"]),
    ('op.drop_index("ix_old", table_name="users")', ["drop-index-non-concurrently"]),
    (
        'op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)',
        ["concurrently-in-transaction"],
    ),
    ('op.create_foreign_key("fk", "orders", "users", ["user_id"], ["id"])', ["add-foreign-key-validated"]),
    ('op.create_check_constraint("ck", "orders", "total >= 0")', ["add-check-validated"]),
    (
        'op.execute("ALTER TABLE orders ADD CONSTRAINT ck CHECK (total > 0) NOT VALID")\n'
        'op.execute("ALTER TABLE orders VALIDATE CONSTRAINT ck")',
        ["validate-constraint-same-transaction"],
    ),
    ('op.alter_column("users", "name", nullable=False)', ["set-not-null"]),
    ('op.create_unique_constraint("users_email_key", "users", ["email"])', ["add-unique-constraint"]),
    ('op.create_primary_key("orders_pk", "orders", ["user_id"])', ["add-primary-key"]),
    (
        'op.execute("ALTER TABLE orders ADD CONSTRAINT ex EXCLUDE USING btree (total WITH =)")',
        ["add-exclusion-constraint"],
    ),
    ('op.execute("REINDEX TABLE users")', ["reindex-non-concurrently"]),
    ('op.execute("ALTER TABLE events DETACH PARTITION events_2020")', ["detach-partition-non-concurrently"]),
    ('op.execute("CLUSTER users USING users_pkey")', ["vacuum-full-or-cluster"]),
    (
        'op.add_column("users", sa.Column("v", sa.Boolean()))\nop.execute("UPDATE users SET v = false")',
        ["backfill-in-ddl-transaction"],
    ),
    (  # Alembic renders ADD COLUMN, then ADD FOREIGN KEY, which scans orders (test_lock_facts.py)
        'op.add_column("orders", sa.Column("uid", sa.BigInteger(), sa.ForeignKey("users.id")))',
        ["add-foreign-key-validated"],
    ),
    (
        'op.add_column("users", sa.Column("v", sa.Boolean()))\n'
        'op.create_check_constraint("v_nn", "users", "v IS NOT NULL", postgresql_not_valid=True)',
        ["not-valid-check-before-backfill"],
    ),
    (
        'op.add_column("users", sa.Column("v", sa.Boolean()))\n'
        'with op.get_context().autocommit_block():\n    op.execute("UPDATE users SET v = false WHERE id < 10")',
        ["statements-before-autocommit-block"],
    ),
]

UNPHASED_SAFE: list[str] = [
    'op.add_column("users", sa.Column("flag", sa.Boolean(), nullable=False, server_default=sa.false()))',
    'op.add_column("users", sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now()))',
    'op.alter_column("users", "email", type_=sa.String(200), existing_type=sa.String(100))',
    'op.alter_column("users", "email", type_=sa.Text(), existing_type=sa.String(100))',
    'op.alter_column("users", "email", nullable=True)',
    "with op.get_context().autocommit_block():\n"
    '    op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)',
    "with op.get_context().autocommit_block():\n"
    '    op.drop_index("ix_old", table_name="users", postgresql_concurrently=True)',
    'op.create_foreign_key("fk", "orders", "users", ["user_id"], ["id"], postgresql_not_valid=True)',
    'op.create_check_constraint("ck", "orders", "total >= 0", postgresql_not_valid=True)',
    'op.create_table("t", sa.Column("id", sa.Integer()))\nop.create_index("ix", "t", ["id"])\n'
    'op.add_column("t", sa.Column("c", sa.Integer(), nullable=False))\nop.drop_column("t", "c")',
    'op.execute("ALTER INDEX ix_a RENAME TO ix_b")',
    'op.execute("CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ DROP TABLE users $$")',
    'op.execute("-- DROP TABLE users\\nSELECT 1")',
    "with op.get_context().autocommit_block():\n"
    '    op.execute("UPDATE users SET v = false WHERE id < 10")\n'
    'op.add_column("users", sa.Column("v", sa.Boolean()))',
]


@pytest.mark.parametrize(("ops", "expected"), UNPHASED, ids=[e[1][0] for e in UNPHASED])
def test_alembic_op_flags(make_project: Callable[[], ProjectMaker], ops: str, expected: list[str]) -> None:
    p = make_project()
    p.add(BASE, change=None, phased=False)
    path = p.add(ops, change=None, phased=False)
    findings = lint(p)
    assert rules_in(findings, path) == expected
    f = next(f for f in findings if f.path.endswith(path.name))
    source_line = path.read_text().splitlines()[f.line - 1]
    assert f.column == 5 and source_line[4:].startswith(("op.", "with op."))  # the op's own line and column


@pytest.mark.parametrize("ops", UNPHASED_SAFE, ids=[str(i) for i in range(len(UNPHASED_SAFE))])
def test_alembic_look_alikes(make_project: Callable[[], ProjectMaker], ops: str) -> None:
    p = make_project()
    p.add(BASE, change=None, phased=False)
    path = p.add(ops, change=None, phased=False)
    assert rules_in(lint(p), path) == []


def test_fix_is_alembic_ops_with_the_users_names(make_project: Callable[[], ProjectMaker]) -> None:
    p = make_project()
    p.add(BASE, change=None, phased=False)
    p.add('op.create_index("ix_users_email", "users", ["email"])', change=None, phased=False)
    (f,) = lint(p)
    assert 'op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True' in f.fix[0]
    assert "autocommit_block" in f.fix[0]


def test_tables_created_by_earlier_revisions_are_existing(make_project: Callable[[], ProjectMaker]) -> None:
    p = make_project()
    first = p.add(BASE + '\nop.create_index("ix_a", "users", ["name"])', change=None, phased=False)
    second = p.add('op.create_index("ix_b", "users", ["name"])', change=None, phased=False)
    findings = lint(p)
    assert rules_in(findings, first) == []
    assert rules_in(findings, second) == ["create-index-non-concurrently"]


def test_phases(make_project: Callable[[], ProjectMaker]) -> None:
    p = make_project()
    p.add(BASE, change="base")
    ex = p.add('op.add_column("users", sa.Column("nick", sa.Text()))\nop.drop_column("users", "name")', change="c1")
    mg = p.add(
        'op.execute("UPDATE users SET nick = name")\nop.create_index("ix", "users", ["nick"])',
        phase="migrate",
        change="c1",
    )
    ok = p.add(
        'op.backfill("users", values={"nick": "name"}, where="nick IS NULL")',
        phase="migrate",
        change="c2",
        depends_on=None,
    )
    ct = p.add(
        'op.drop_column("users", "age")\nop.alter_column("users", "nick", nullable=False)',
        phase="contract",
        change="c1",
    )
    findings = lint(p)
    assert rules_in(findings, ex) == ["destructive-outside-contract"]
    assert rules_in(findings, mg) == ["create-index-non-concurrently", "ddl-in-migrate", "unbatched-backfill"]
    assert rules_in(findings, ok) == []
    assert rules_in(findings, ct) == ["set-not-null"]  # the drop is the point of a contract with an expand


def test_contract_without_expand_and_graph_rules(make_project: Callable[[], ProjectMaker]) -> None:
    p = make_project()
    p.add(BASE, change="base")
    lone = p.add('op.drop_column("users", "age")', phase="contract", change="lonely")
    p.add("pass", change="c2", rev="ex_a", down="ex01")
    p.add("pass", change="c3", rev="ex_b", down="ex01")
    wrong = p.add("pass", phase="migrate", change="c4", extra="", depends_on=None)
    wrong.write_text(wrong.read_text().replace("ec_phase = 'migrate'", "ec_phase = 'contract'"))
    findings = lint(p)
    assert rules_in(findings, lone) == ["contract-without-expand", "drop-column"]
    heads = [f for f in findings if f.rule == "multiple-lane-heads"]
    assert {Path(f.path).name for f in heads} == {"ex_a.py", "ex_b.py"}
    assert rules_in(findings, wrong) == ["contract-without-expand", "phase-lane-mismatch"]


def test_contract_not_depending_on_migrate(make_project: Callable[[], ProjectMaker]) -> None:
    p = make_project()
    p.add(BASE, change="c1")
    p.add("op.backfill('users', values={'name': \"'x'\"})", phase="migrate", change="c1")
    ct = p.add('op.drop_column("users", "age")', phase="contract", change="c1", depends_on="ex01")
    findings = lint(p)
    (f,) = [f for f in findings if f.rule == "contract-without-expand"]
    assert f.path.endswith(ct.name) and "mi01" in f.message and f.line == 8


def test_not_analysable(make_project: Callable[[], ProjectMaker]) -> None:
    """SQL built at run time from values the revision knows (an f-string over constants) renders and is
    linted; a read degrades alone: it is reported, and the ops after it are still linted."""
    p = make_project()
    p.add(BASE, change=None, phased=False)
    path = p.add(
        'for t in ("users", "orders"):\n    op.execute(f"CREATE INDEX ix_{t} ON {t} (id)")\n'
        'rows = op.get_bind().execute(sa.text("SELECT id FROM users")).fetchall()\n'
        'for row in rows:\n    op.execute(f"DELETE FROM users WHERE id = {row.id}")\n'
        'op.drop_column("users", "age")',
        change=None,
        phased=False,
    )
    result = lint_project(Config(root=p.root), LintOptions())
    findings = [f for f in result.findings if f.path.endswith(path.name) and f.direction == "upgrade"]
    kinds = [(f.rule, f.line, f.severity) for f in findings]
    assert kinds.count(("create-index-non-concurrently", line_of(path, 'op.execute(f"CREATE'), "error")) == 2
    assert ("not-analysable", line_of(path, "rows = "), "warning") in kinds
    assert ("drop-column", line_of(path, "op.drop_column"), "error") in kinds
    assert result.not_analysable == 1 and result.exit_code == 1
    assert result.stats.revisions == 2 and result.stats.complete == 2  # a read is not a rendering failure


def test_ignores_and_safety_assured(make_project: Callable[[], ProjectMaker]) -> None:
    p = make_project()
    p.add(BASE, change=None, phased=False)
    path = p.add(
        "# expandcontract: ignore[create-index-non-concurrently] users has 40 rows\n"
        'op.create_index("ix_a", "users", ["name"])\n'
        "# expandcontract: ignore[drop-table]\n"
        'op.drop_table("orders")\n'
        "# expandcontract: ignore[set-not-null] nothing here\n"
        'op.add_column("users", sa.Column("x", sa.Text()))\n'
        'op.drop_column("users", "age")',
        change=None,
        phased=False,
        extra='ec_safety_assured = {"drop-column": "age is unused since v3", "add-check-validated": "stale"}\n',
    )
    findings = lint(p)
    got = sorted((f.rule, f.line) for f in findings if f.path.endswith(path.name))
    assert got == [
        ("drop-table", line_of(path, "op.drop_table")),
        ("ignore-without-reason", line_of(path, "ignore[drop-table]")),
        ("unused-ignore", line_of(path, "ec_safety_assured")),
        ("unused-ignore", line_of(path, "ignore[set-not-null]")),
    ]


def test_project_lint_imports_backfill_stand_in_only_when_missing(make_project: Callable[[], ProjectMaker]) -> None:
    from alembic.operations import Operations

    p = make_project()
    p.add('op.backfill("users", values={"a": "1"})', change=None, phased=False)
    assert lint(p) == []
    assert hasattr(Operations, "backfill")


def test_since_lints_only_changed_revisions(make_project: Callable[[], ProjectMaker]) -> None:
    import subprocess

    p = make_project()
    old = p.add(BASE + '\nop.drop_column("users", "x")', change=None, phased=False)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=p.root, check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.email=a@b", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "base")
    git("add", ".")
    git("-c", "user.email=a@b", "-c", "user.name=t", "commit", "-q", "-m", "one")
    new = p.add('op.create_index("ix", "users", ["name"])', change=None, phased=False)
    result = lint_project(Config(root=p.root), LintOptions(), since="HEAD")
    assert result.files == 1
    assert {Path(f.path).name for f in result.findings} == {new.name}
    assert old.name not in {Path(f.path).name for f in result.findings}


def test_revision_paths_lint_only_those_revisions(make_project: Callable[[], ProjectMaker]) -> None:
    from click.testing import CliRunner

    from expandcontract.cli import cli

    p = make_project()
    p.add(BASE + '\nop.drop_column("users", "x")', change=None, phased=False)
    new = p.add('op.create_index("ix", "users", ["name"])', change=None, phased=False)
    (p.root / "pyproject.toml").write_text("[tool.expandcontract]\n")
    old_cwd = os.getcwd()
    os.chdir(p.root)
    try:
        result = CliRunner().invoke(cli, ["lint", "--format", "json", str(new)])
    finally:
        os.chdir(old_cwd)
    doc = json.loads(result.output)
    assert result.exit_code == 1 and doc["files"] == 1
    assert [(Path(f["path"]).name, f["rule"]) for f in doc["findings"]] == [(new.name, "create-index-non-concurrently")]


def test_an_op_that_cannot_render_does_not_hide_the_rest(make_project: Callable[[], ProjectMaker]) -> None:
    p = make_project()
    p.add(BASE, change=None, phased=False)
    path = p.add(
        'op.drop_constraint(None, "users", type_="foreignkey")\n'
        'op.bulk_insert(sa.table("users", sa.column("id")), [{"id": 1}])\n'
        'op.get_bind().execute(sa.text("DELETE FROM users"))\n'
        'op.drop_column("users", "age")',
        change=None,
        phased=False,
    )
    got = [(f.rule, f.line) for f in lint(p) if f.path.endswith(path.name) and f.direction == "upgrade"]
    assert got == [
        ("not-analysable", line_of(path, "drop_constraint")),  # an unnamed constraint: no SQL exists for it
        ("drop-column", line_of(path, "drop_column")),  # untyped bulk_insert values render; so does the rest
    ]


def test_not_null_via_check_across_phases_is_clean(make_project: Callable[[], ProjectMaker]) -> None:
    """The order the fix texts give: backfill in migrate, then in the contract the NOT VALID check and its
    VALIDATE in an autocommit block (separate transactions), SET NOT NULL (no scan on PG 12+)."""
    p = make_project()
    p.add(BASE, change="base")
    p.add('op.execute("UPDATE users SET name = name WHERE id = 0")', change="c1")
    p.add('op.backfill("users", values={"name": "\'?\'"}, where="name IS NULL")', phase="migrate", change="c1")
    contract = (
        "with op.get_context().autocommit_block():\n"
        '    op.execute("ALTER TABLE users ADD CONSTRAINT users_name_nn CHECK (name IS NOT NULL) NOT VALID")\n'
        '    op.execute("ALTER TABLE users VALIDATE CONSTRAINT users_name_nn")\n'
        'op.alter_column("users", "name", nullable=False)\nop.drop_constraint("users_name_nn", "users")'
    )
    p.add(contract, phase="contract", change="c1")
    upgrades = lambda fs: [f.rule for f in fs if f.direction == "upgrade"]  # noqa: E731
    assert upgrades(lint(p)) == []
    assert upgrades(lint(p, pg_version=11)) == ["set-not-null"]


def test_a_not_valid_check_in_the_expand_is_flagged_once_the_migrate_backfills_it(
    make_project: Callable[[], ProjectMaker],
) -> None:
    p = make_project()
    p.add(BASE, change="base")
    ex = p.add(
        'op.create_check_constraint("users_name_nn", "users", "name IS NOT NULL", postgresql_not_valid=True)',
        change="c1",
    )
    p.add('op.backfill("users", values={"name": "\'?\'"}, where="name IS NULL")', phase="migrate", change="c1")
    assert rules_in(lint(p), ex) == ["not-valid-check-before-backfill"]


def test_every_catalogue_rule_has_an_alembic_flag_case() -> None:
    from expandcontract.lint.registry import all_rules

    covered = {r for _, ids in UNPHASED for r in ids}
    assert {r.id for r in all_rules().values() if r.kind == "catalogue"} - covered == set()


def test_a_branch_on_offline_mode_is_not_analysable(make_project: Callable[[], ProjectMaker]) -> None:
    """A revision that does something else offline (print the SQL and return, as airflow's do) hides its
    real statements from an offline linter: that is said, not passed silently."""
    p = make_project()
    p.add(BASE, change=None, phased=False)
    path = p.add(
        "from alembic import context\n"
        "if context.is_offline_mode():\n"
        '    print("run this one online")\n'
        "    return\n"
        'op.drop_column("users", "age")',
        change=None,
        phased=False,
    )
    result = lint_project(Config(root=p.root), LintOptions())
    found = [(f.rule, f.line, f.direction) for f in result.findings if f.path.endswith(path.name)]
    assert found == [("not-analysable", line_of(path, "is_offline_mode"), "upgrade")]
    assert result.not_analysable == 1
