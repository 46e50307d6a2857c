"""Behaviour of the .sql path beyond the per-rule cases (tests/lint/cases/, test_rule_cases.py): positions,
DO blocks, quoting, transactions, fix texts."""

from __future__ import annotations

from expandcontract.lint.api import LintOptions, lint_sql
from expandcontract.sql.schema import schema_from_ddl


def test_syntax_error_has_the_parser_position() -> None:
    (f,) = lint_sql("SELECT 1;\nALTER TABEL users ADD COLUMN x int;", "m.sql")
    assert (f.rule, f.line, f.column, f.severity) == ("syntax-error", 2, 7, "error")
    assert "TABEL" in f.message


def test_statements_on_one_line_get_their_own_columns() -> None:
    found = lint_sql("SELECT 1; DROP TABLE a; ALTER TABLE b DROP COLUMN c;", "m.sql")
    assert [(f.rule, f.line, f.column) for f in found] == [("drop-table", 1, 11), ("drop-column", 1, 25)]


def test_do_block_statement_reports_its_own_line() -> None:
    sql = "SELECT 1;\nDO $$\nBEGIN\n  PERFORM 1;\n  ALTER TABLE users RENAME COLUMN a TO b;\nEND $$;"
    (f,) = lint_sql(sql, "m.sql")
    assert (f.rule, f.line) == ("rename-column", 5)
    assert "DO block" in f.message


def test_dynamic_execute_in_do_is_not_analysable_warning() -> None:
    (f,) = lint_sql("DO $$ BEGIN EXECUTE format('DROP TABLE %I', 'x'); END $$;", "m.sql")
    assert (f.rule, f.severity) == ("not-analysable", "warning")


def test_literal_execute_in_do_is_analysed() -> None:
    (f,) = lint_sql("DO $$ BEGIN EXECUTE 'DROP TABLE legacy'; END $$;", "m.sql")
    assert f.rule == "drop-table"


def test_quoted_names_keep_case_and_unquoted_fold() -> None:
    (f,) = lint_sql('ALTER TABLE "Users" DROP COLUMN "Email";', "m.sql")
    assert '"Users"' in f.message and '"Email"' in f.message
    (g,) = lint_sql("ALTER TABLE USERS DROP COLUMN EMAIL;", "m.sql")
    assert "users" in g.message and "email" in g.message and g.table == "users"


def test_case_and_schema_resolve_to_the_same_new_table() -> None:
    assert lint_sql("CREATE TABLE Public.Things (id int);\nCREATE INDEX i ON things (id);", "m.sql") == []
    found = lint_sql('CREATE TABLE "Things" (id int);\nCREATE INDEX i ON things (id);', "m.sql")
    assert [f.rule for f in found] == ["create-index-non-concurrently"]


def test_transaction_none_then_explicit_begin() -> None:
    sql = "CREATE INDEX CONCURRENTLY a ON t (x);\nBEGIN;\nCREATE INDEX CONCURRENTLY b ON t (x);\nCOMMIT;"
    found = lint_sql(sql, "m.sql", LintOptions(transaction="none"))
    assert [(f.rule, f.line) for f in found] == [("concurrently-in-transaction", 3)]


def test_commit_ends_the_ddl_lock_for_backfill() -> None:
    sql = "ALTER TABLE users ADD COLUMN v int;\nCOMMIT;\nUPDATE users SET v = 1;"
    assert lint_sql(sql, "m.sql") == []


def test_fix_steps_use_the_users_names_as_sql() -> None:
    (f,) = lint_sql("ALTER TABLE accounts ADD COLUMN api_key uuid DEFAULT gen_random_uuid();", "m.sql")
    assert f.fix[0] == (
        "Expand: `ALTER TABLE accounts ADD COLUMN api_key uuid; ALTER TABLE accounts ALTER COLUMN api_key SET "
        "DEFAULT gen_random_uuid();`"
    )
    assert f.lock is not None and f.lock.startswith("ACCESS EXCLUSIVE lock on accounts")
    assert f.table == "accounts"


def test_pg_version_gates_reindex_and_detach_fixes() -> None:
    (f,) = lint_sql("REINDEX TABLE orders;", "m.sql", LintOptions(pg_version=11))
    assert "no REINDEX CONCURRENTLY" in f.fix[0]
    (g,) = lint_sql("ALTER TABLE e DETACH PARTITION e1;", "m.sql", LintOptions(pg_version=13))
    assert "PostgreSQL 14" in g.fix[0]


def test_drop_index_names_its_table_from_the_schema() -> None:
    schema = schema_from_ddl(
        "CREATE TABLE public.users (id int);\nCREATE INDEX users_id_idx ON public.users USING btree (id);"
    )
    (f,) = lint_sql("DROP INDEX users_id_idx;", "m.sql", LintOptions(schema=schema))
    assert f.table == "users" and "locks users against all reads and writes" in f.message


def test_renames_keep_what_the_schema_knows() -> None:
    """A table or column renamed earlier keeps its NOT NULL (here: from its primary key) and its type."""
    schema = schema_from_ddl("CREATE TABLE links (a_id int, b_id int, note varchar(20), PRIMARY KEY (a_id, b_id));")
    sql = (
        "ALTER TABLE links RENAME TO pairs;\nALTER TABLE pairs ALTER COLUMN b_id SET NOT NULL;\n"
        "ALTER TABLE pairs RENAME COLUMN b_id TO c_id;\nALTER TABLE pairs ALTER COLUMN c_id SET NOT NULL;\n"
        "ALTER TABLE pairs ALTER COLUMN note TYPE varchar(40);"
    )
    found = [f.rule for f in lint_sql(sql, "m.sql", LintOptions(schema=schema))]
    assert found == ["rename-table", "rename-column"]
    # without the schema the same SET NOT NULL is a finding: the test above is not vacuous
    assert "set-not-null" in {f.rule for f in lint_sql(sql, "m.sql", LintOptions())}
