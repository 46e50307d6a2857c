"""Chains with planted downgrade bugs, shared by the tests and benchmarks/verify.py.

Each bug is a revision whose upgrade is right and whose downgrade forgets one thing; `message` is what
verify must say about it (`{rev}` is the revision id).
"""

from __future__ import annotations

from dataclasses import dataclass

BASE = (
    """
op.execute("CREATE TYPE mood AS ENUM ('happy', 'sad')")
op.execute(
    "CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL, "
    "name varchar(40), email_verified boolean, mood mood, "
    "CONSTRAINT users_email_check CHECK (email <> ''))"
)
""",
    """
op.execute("DROP TABLE users")
op.execute("DROP TYPE mood")
""",
)


@dataclass(frozen=True)
class Bug:
    slug: str
    kind: str
    upgrade: str
    downgrade: str
    message: str


BUGS: tuple[Bug, ...] = (
    Bug(
        "forgotten-index",
        "forgotten index",
        "op.create_index('ix_users_email', 'users', ['email'])\nop.create_index('ix_users_name', 'users', ['name'])",
        "op.drop_index('ix_users_name', 'users')",
        "index ix_users_email still exists after downgrade of {rev}",
    ),
    Bug(
        "forgotten-default",
        "forgotten default",
        "op.alter_column('users', 'email_verified', server_default=sa.text('false'), comment='confirmed')",
        "op.alter_column('users', 'email_verified', comment=None, existing_comment='confirmed')",
        "column users.email_verified: default false after downgrade, none before",
    ),
    Bug(
        "not-valid-left",
        "constraint left NOT VALID",
        "op.drop_constraint('users_email_check', 'users')",
        "op.execute(\"ALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email <> '') NOT VALID\")",
        "constraint users_email_check on users: NOT VALID after downgrade, validated before",
    ),
    Bug(
        "enum-value-left",
        "enum value left",
        "op.execute(\"ALTER TYPE mood ADD VALUE 'meh'\")\nop.add_column('users', sa.Column('note', sa.Text()))",
        "op.drop_column('users', 'note')",
        "enum type mood: value 'meh' still exists after downgrade of {rev}",
    ),
    Bug(
        "function-left",
        "trigger function left",
        """
op.execute("CREATE FUNCTION users_touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$")
op.execute("CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION users_touch()")
""",
        "op.execute('DROP TRIGGER users_touch ON users')",
        "function users_touch() still exists after downgrade of {rev}",
    ),
    Bug(
        "grant-left",
        "privilege not revoked",
        "op.execute('CREATE VIEW user_emails AS SELECT id, email FROM users')\n"
        "op.execute('GRANT SELECT ON users TO PUBLIC')",
        "op.execute('DROP VIEW user_emails')",
        "privilege SELECT on table users to PUBLIC still granted after downgrade of {rev}",
    ),
    Bug(
        "data-lost",
        "data lost in a column that existed before",
        "op.alter_column('users', 'name', type_=sa.Text(), existing_type=sa.String(40))",
        "op.drop_column('users', 'name')\nop.add_column('users', sa.Column('name', sa.String(40)))",
        "column users.name: values changed by the downgrade of {rev} "
        "(data lost in a column that existed before the upgrade)",
    ),
)


def correct(i: int) -> dict[str, tuple[str, ...]]:
    """The i-th correct change: phases -> (upgrade, downgrade), cycling through kinds of revisions."""
    t = f"t{i}"
    kinds: list[dict[str, tuple[str, ...]]] = [
        {
            "expand": (
                f"op.create_table('{t}', sa.Column('id', sa.Integer(), primary_key=True), "
                f"sa.Column('user_id', sa.BigInteger(), sa.ForeignKey('users.id')), sa.Column('label', sa.Text()))",
                f"op.drop_table('{t}')",
            )
        },
        {
            "expand": (
                f"op.add_column('users', sa.Column('c{i}', sa.Text()))\n"
                f'op.execute("ALTER TABLE users ADD CONSTRAINT users_c{i}_check CHECK (c{i} IS NOT NULL) NOT VALID")',
                f"op.drop_column('users', 'c{i}')",
            ),
            "migrate": (
                f'op.execute("UPDATE users SET c{i} = email WHERE c{i} IS NULL")',
                "pass",
                "ec_reversible = True  # the backfilled values can stay",
            ),
            "contract": (
                f"op.execute('ALTER TABLE users VALIDATE CONSTRAINT users_c{i}_check')\n"
                f"op.alter_column('users', 'c{i}', nullable=False)",
                f"op.alter_column('users', 'c{i}', nullable=True)\n"
                f"op.drop_constraint('users_c{i}_check', 'users')\n"
                f'op.execute("ALTER TABLE users ADD CONSTRAINT users_c{i}_check CHECK (c{i} IS NOT NULL) NOT VALID")',
            ),
        },
        {
            "expand": (
                "with op.get_context().autocommit_block():\n"
                f"    op.create_index('ix_users_mood_{i}', 'users', ['mood'], postgresql_concurrently=True,"
                " postgresql_where=sa.text('mood IS NOT NULL'), postgresql_include=['email'])",
                "with op.get_context().autocommit_block():\n"
                f"    op.drop_index('ix_users_mood_{i}', 'users', postgresql_concurrently=True)",
            )
        },
        {
            "expand": (
                f"op.execute(\"CREATE TYPE status{i} AS ENUM ('new', 'done')\")\n"
                f"op.add_column('users', sa.Column('s{i}', sa.Enum(name='status{i}', create_type=False)))\n"
                f'op.execute("CREATE FUNCTION f{i}() RETURNS trigger LANGUAGE plpgsql '
                'AS $$BEGIN RETURN NEW; END$$")\n'
                f"op.execute('CREATE TRIGGER trg{i} BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION f{i}()')\n"
                f"op.execute('GRANT UPDATE (s{i}) ON users TO PUBLIC')",
                f"op.execute('REVOKE UPDATE (s{i}) ON users FROM PUBLIC')\n"
                f"op.execute('DROP TRIGGER trg{i} ON users')\n"
                f"op.execute('DROP FUNCTION f{i}()')\n"
                f"op.drop_column('users', 's{i}')\n"
                f"op.execute('DROP TYPE status{i}')",
            )
        },
    ]
    return kinds[i % len(kinds)]
