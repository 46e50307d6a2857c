"""Per rule: SQL that must flag, and look-alikes that must not (lint-rules.md "Do NOT flag")."""

from __future__ import annotations

import pytest

from expandcontract.lint.api import LintOptions, lint_sql
from expandcontract.sql.schema import schema_from_ddl

SCHEMA = """
CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100), name text, age integer, score numeric(10,2),
                    nick varchar(20), CONSTRAINT users_email_not_null CHECK (email IS NOT NULL));
CREATE TABLE orders (id integer, total integer, note varchar(50));
"""

# (sql, expected rule ids, options)
FLAG: list[tuple[str, set[str], dict[str, object]]] = [
    ("ALTER TABLE users DROP COLUMN email;", {"drop-column"}, {}),
    (
        "ALTER TABLE users ADD COLUMN v boolean; ALTER TABLE users ADD CONSTRAINT v_nn CHECK (v IS NOT NULL) NOT VALID",
        {"not-valid-check-before-backfill"},
        {},
    ),
    ('ALTER TABLE "Users" DROP COLUMN "E-mail";', {"drop-column"}, {}),
    ("ALTER TABLE app.users DROP COLUMN IF EXISTS email CASCADE;", {"drop-column"}, {}),
    ("DROP TABLE legacy;", {"drop-table"}, {}),
    ("DROP TABLE IF EXISTS a, b CASCADE;", {"drop-table"}, {}),
    ("ALTER TABLE users RENAME COLUMN name TO full_name;", {"rename-column"}, {}),
    ("DO $$ BEGIN ALTER TABLE users RENAME COLUMN name TO full_name; END $$;", {"rename-column"}, {}),
    ("ALTER TABLE customers RENAME TO clients;", {"rename-table"}, {}),
    ("ALTER TABLE users ALTER COLUMN age TYPE bigint;", {"change-column-type"}, {"schema": SCHEMA}),
    ("ALTER TABLE users ALTER COLUMN nick TYPE varchar(10);", {"change-column-type"}, {"schema": SCHEMA}),
    ("ALTER TABLE users ALTER COLUMN score TYPE numeric(12,3);", {"change-column-type"}, {"schema": SCHEMA}),
    ("ALTER TABLE users ALTER COLUMN x TYPE text;", {"change-column-type"}, {}),  # prior type unknown
    ("ALTER TABLE users ADD COLUMN k uuid DEFAULT gen_random_uuid();", {"add-column-volatile-default"}, {}),
    ("ALTER TABLE users ADD COLUMN t timestamptz DEFAULT clock_timestamp();", {"add-column-volatile-default"}, {}),
    ("ALTER TABLE users ADD COLUMN r float8 DEFAULT random() * 10;", {"add-column-volatile-default"}, {}),
    ("ALTER TABLE users ADD COLUMN flag boolean DEFAULT false;", {"add-column-volatile-default"}, {"pg_version": 10}),
    ("ALTER TABLE users ADD COLUMN tenant bigint NOT NULL;", {"add-required-column"}, {}),
    ("ALTER TABLE users ADD COLUMN seq bigserial;", {"add-serial-column"}, {}),
    ("ALTER TABLE users ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;", {"add-serial-column"}, {}),
    (
        "ALTER TABLE orders ADD COLUMN c bigint GENERATED ALWAYS AS (total * 100) STORED;",
        {"add-generated-stored-column"},
        {},
    ),
    ("CREATE INDEX users_email_idx ON users (email);", {"create-index-non-concurrently"}, {}),
    ("create unique index u on public.users using btree (lower(email));", {"create-index-non-concurrently"}, {}),
    ("DROP INDEX users_email_idx;", {"drop-index-non-concurrently"}, {}),
    ("CREATE INDEX CONCURRENTLY i ON users (email);", {"concurrently-in-transaction"}, {}),
    ("BEGIN; DROP INDEX CONCURRENTLY i; COMMIT;", {"concurrently-in-transaction"}, {"transaction": "none"}),
    ("REINDEX INDEX CONCURRENTLY i;", {"concurrently-in-transaction"}, {}),
    ("ALTER TABLE p DETACH PARTITION c CONCURRENTLY;", {"concurrently-in-transaction"}, {}),
    (
        "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);",
        {"add-foreign-key-validated"},
        {},
    ),
    (
        "ALTER TABLE orders ADD COLUMN user_id bigint DEFAULT 1 REFERENCES users (id);",
        {"add-foreign-key-validated"},
        {},
    ),
    ("ALTER TABLE orders ADD CONSTRAINT ck CHECK (total >= 0);", {"add-check-validated"}, {}),
    (
        "ALTER TABLE orders ADD CONSTRAINT ck CHECK (total >= 0) NOT VALID;\n"
        "ALTER TABLE orders VALIDATE CONSTRAINT ck;",
        {"validate-constraint-same-transaction"},
        {},
    ),
    ("ALTER TABLE users ALTER COLUMN name SET NOT NULL;", {"set-not-null"}, {"schema": SCHEMA}),
    ("ALTER TABLE users ALTER COLUMN email SET NOT NULL;", {"set-not-null"}, {"schema": SCHEMA, "pg_version": 11}),
    ("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);", {"add-unique-constraint"}, {}),
    ("ALTER TABLE users ADD COLUMN code text UNIQUE;", {"add-unique-constraint"}, {}),
    ("ALTER TABLE events ADD PRIMARY KEY (id);", {"add-primary-key"}, {}),
    (
        "ALTER TABLE b ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);",
        {"add-exclusion-constraint"},
        {},
    ),
    ("REINDEX TABLE orders;", {"reindex-non-concurrently"}, {}),
    ("REINDEX INDEX orders_pkey;", {"reindex-non-concurrently"}, {}),
    ("ALTER TABLE events DETACH PARTITION events_2023;", {"detach-partition-non-concurrently"}, {}),
    ("VACUUM FULL orders;", {"vacuum-full-or-cluster"}, {"transaction": "none"}),
    ("VACUUM (FULL, ANALYZE) orders;", {"vacuum-full-or-cluster"}, {"transaction": "none"}),
    ("CLUSTER orders USING orders_pkey;", {"vacuum-full-or-cluster"}, {}),
    (
        "ALTER TABLE users ADD COLUMN verified boolean;\nUPDATE users SET verified = false;",
        {"backfill-in-ddl-transaction"},
        {},
    ),
    (
        "CREATE INDEX i ON users (email);\nDELETE FROM users WHERE email IS NULL;",
        {"create-index-non-concurrently", "backfill-in-ddl-transaction"},
        {},
    ),
    # phase rules (--phase)
    ("ALTER TABLE users DROP COLUMN email;", {"destructive-outside-contract"}, {"phase": "expand"}),
    ("ALTER TABLE users RENAME TO members;", {"destructive-outside-contract"}, {"phase": "expand"}),
    (
        "ALTER TABLE users ALTER COLUMN nick TYPE varchar(5);",
        {"destructive-outside-contract", "change-column-type"},
        {"phase": "expand", "schema": SCHEMA},
    ),
    ("ALTER TABLE users ADD COLUMN nickname text;", {"ddl-in-migrate"}, {"phase": "migrate"}),
    ("DROP TABLE legacy;", {"destructive-outside-contract", "ddl-in-migrate"}, {"phase": "migrate"}),
    ("UPDATE users SET verified = false WHERE verified IS NULL;", {"unbatched-backfill"}, {"phase": "migrate"}),
    ("DELETE FROM sessions;", {"unbatched-backfill"}, {"phase": "contract"}),
]

NOT_FLAG: list[tuple[str, dict[str, object]]] = [
    # anything on a table created earlier in the same migration
    (
        "CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN c int NOT NULL;\nCREATE INDEX i ON t (c);\n"
        "ALTER TABLE t ADD CONSTRAINT ck CHECK (c > 0);\nALTER TABLE t DROP COLUMN c;\n"
        "ALTER TABLE t ADD COLUMN k uuid DEFAULT gen_random_uuid();\nUPDATE t SET id = 1;\nDROP TABLE t;",
        {},
    ),
    (
        "CREATE TABLE app.t (id int);\nCREATE INDEX ON app.t (id);\nALTER TABLE app.t RENAME TO u;"
        "\nALTER TABLE app.u ADD PRIMARY KEY (id);",
        {},
    ),
    # constant / STABLE defaults on PG 11+
    ("ALTER TABLE users ADD COLUMN flag boolean NOT NULL DEFAULT false;", {}),
    ("ALTER TABLE users ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();", {}),
    ("ALTER TABLE users ADD COLUMN status text DEFAULT 'new'::text;", {}),
    ("ALTER TABLE users ADD COLUMN c int DEFAULT NULL;", {"pg_version": 10}),
    # ADD COLUMN ... REFERENCES with no default
    ("ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id);", {}),
    # binary-coercible type changes
    ("ALTER TABLE users ALTER COLUMN nick TYPE varchar(40);", {"schema": SCHEMA}),
    ("ALTER TABLE users ALTER COLUMN nick TYPE text;", {"schema": SCHEMA}),
    ("ALTER TABLE users ALTER COLUMN score TYPE numeric(14,2);", {"schema": SCHEMA}),
    ("ALTER TABLE users ALTER COLUMN name TYPE varchar;", {"schema": SCHEMA}),
    # SET NOT NULL backed by a validated CHECK (PG 12+)
    ("ALTER TABLE users ALTER COLUMN email SET NOT NULL;", {"schema": SCHEMA}),
    (
        "ALTER TABLE users ADD CONSTRAINT c CHECK (name IS NOT NULL) NOT VALID;\nCOMMIT;\nBEGIN;\n"
        "ALTER TABLE users VALIDATE CONSTRAINT c;\nCOMMIT;\nBEGIN;\nALTER TABLE users ALTER COLUMN name SET NOT NULL;",
        {},
    ),
    ("ALTER TABLE users ALTER COLUMN email DROP NOT NULL;", {}),
    ("ALTER INDEX users_email_idx RENAME TO users_email_key;", {}),
    ("ALTER TABLE users RENAME CONSTRAINT a TO b;", {}),
    # DDL inside a CREATE FUNCTION body does not execute
    (
        "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DROP TABLE users; "
        "ALTER TABLE users DROP COLUMN email; END $$;",
        {},
    ),
    (
        "CREATE OR REPLACE FUNCTION g() RETURNS trigger LANGUAGE plpgsql AS $body$\nBEGIN\n"
        "  UPDATE users SET name = 'x'; RETURN NEW;\nEND $body$;",
        {},
    ),
    # keywords in comments and strings
    (
        "-- DROP TABLE users; ALTER TABLE users DROP COLUMN email\n/* CREATE INDEX i ON users (a) */\n"
        "INSERT INTO audit (note) VALUES ('DROP TABLE users; ALTER TABLE x RENAME TO y');",
        {},
    ),
    ("COMMENT ON TABLE users IS 'we used to DROP COLUMN email here';", {}),
    # safe forms of the dangerous operations
    ("CREATE INDEX CONCURRENTLY i ON users (email);", {"transaction": "none"}),
    ("DROP INDEX CONCURRENTLY IF EXISTS i;", {"transaction": "none"}),
    ("REINDEX INDEX CONCURRENTLY i;", {"transaction": "none"}),
    ("ALTER TABLE p DETACH PARTITION c CONCURRENTLY;", {"transaction": "none"}),
    ("ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;", {}),
    ("ALTER TABLE orders ADD CONSTRAINT ck CHECK (total >= 0) NOT VALID;", {}),
    ("ALTER TABLE orders VALIDATE CONSTRAINT ck;", {}),
    ("ALTER TABLE users ADD CONSTRAINT k UNIQUE USING INDEX users_email_key;", {}),
    ("ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX users_id_key;", {}),
    ("ALTER TABLE users ADD COLUMN nickname text;", {}),
    ("ALTER TABLE users ALTER COLUMN nickname SET DEFAULT 'x';", {}),
    ("VACUUM ANALYZE orders;", {"transaction": "none"}),
    ("ANALYZE orders;", {}),
    ("ALTER TABLE orders ADD COLUMN c int GENERATED ALWAYS AS (total * 2) VIRTUAL;", {"pg_version": 18}),
    ("UPDATE users SET verified = false WHERE id BETWEEN 1 AND 1000;", {"phase": "migrate"}),
    ("UPDATE users SET verified = false WHERE id >= 1 AND id < 1000;", {"phase": "migrate"}),
    ("UPDATE users SET v = 1 WHERE id IN (SELECT id FROM users WHERE v IS NULL LIMIT 1000);", {"phase": "migrate"}),
    ("UPDATE settings SET value = 'x' WHERE key = 'theme';", {"phase": "migrate"}),
    ("INSERT INTO settings (key, value) VALUES ('a', 'b');\nALTER TABLE settings ADD COLUMN c text;", {}),
    # destructive in a contract that has an expand; unphased code gets no phase rule
    (
        "ALTER TABLE users DROP COLUMN email;\nDROP TABLE legacy;\nALTER TABLE users RENAME COLUMN n TO m;",
        {"phase": "contract"},
    ),
    ("UPDATE users SET verified = false;", {}),
    ("ALTER TABLE users ADD COLUMN nickname text;", {"phase": "expand"}),
    ("CREATE TEMP TABLE tmp AS SELECT 1;\nSELECT 1; SET lock_timeout = '1s';", {"phase": "migrate"}),
]


def _options(opts: dict[str, object]) -> LintOptions:
    kw = dict(opts)
    if "schema" in kw:
        kw["schema"] = schema_from_ddl(str(kw["schema"]))
    return LintOptions(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("sql", "expected", "opts"), FLAG, ids=[f"{i}-{sorted(c[1])[0]}" for i, c in enumerate(FLAG)])
def test_flags(sql: str, expected: set[str], opts: dict[str, object]) -> None:
    found = {f.rule for f in lint_sql(sql, "m.sql", _options(opts))}
    assert found == expected


@pytest.mark.parametrize(("sql", "opts"), NOT_FLAG, ids=[str(i) for i in range(len(NOT_FLAG))])
def test_does_not_flag(sql: str, opts: dict[str, object]) -> None:
    found = [(f.rule, f.line, f.message) for f in lint_sql(sql, "m.sql", _options(opts))]
    assert found == []


def test_every_catalogue_and_phase_rule_has_a_flag_case() -> None:
    from expandcontract.lint.registry import all_rules

    covered = {r for _, ids, _ in FLAG for r in ids}
    wanted = {r.id for r in all_rules().values() if r.kind in ("catalogue", "phase") and r.sql_files}
    wanted -= {"contract-without-expand"}
    assert wanted - covered == set()


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
