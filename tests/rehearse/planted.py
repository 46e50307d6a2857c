"""Planted changes for rehearse, shared by tests/rehearse and benchmarks/rehearse.py.

Each unsafe change has a safe counterpart that does the same thing the zero-downtime way. All start
from the example's first release (users, orders) and its models; a case gives the change's revision
bodies, the new release's models, and (for the unsafe ones) what rehearse must report: the problem kind,
the phase and the release. `linted` says whether the linter knows the class; `heavy` that the damage is a
lock held for as long as the table is big, so it shows only with enough rows.
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

MODELS = """
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declarative_base
from sqlalchemy.types import TypeDecorator


class BigIntKey(TypeDecorator):  # type: ignore[type-arg]
    impl = sa.BigInteger
    cache_ok = True

    def column_expression(self, column: Any) -> Any:
        return sa.cast(column, sa.BigInteger)


Base = declarative_base()  # SQLAlchemy 1.4 and 2.x alike


class User(Base):
    __tablename__ = "users"

    id = sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    email = sa.Column(sa.Text, nullable=False)
    created_at = sa.Column(sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)
{users}

{orders}
"""
NAME = "    name = sa.Column(sa.Text)"
FULL_NAME = "    full_name = sa.Column(sa.Text)"
ORDERS = """
class Order(Base):
    __tablename__ = "{table}"

    id = sa.Column({key}, primary_key=True)
    user_id = sa.Column(sa.BigInteger, sa.ForeignKey("users.id"), nullable=False)
    total_cents = sa.Column({total}, nullable=False)
"""


def models(
    users: str = NAME, *, orders: str | None = "orders", key: str = "sa.Integer", total: str = "sa.Integer"
) -> str:
    order = ORDERS.format(table=orders, key=key, total=total) if orders else ""
    return MODELS.format(users=users, orders=order)


OLD_MODELS = models()

EXAMPLE = Path(__file__).resolve().parents[2] / "expandcontract" / "data" / "example" / "migrations" / "versions"


def example_body(lane: str, name: str) -> str:
    """The upgrade() body of one of the shipped example's revisions: the planted safe changes reuse them."""
    tree = ast.parse((EXAMPLE / lane / f"{name}.py").read_text())
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade")
    return "\n".join(ast.unparse(stmt) for stmt in func.body) + "\n"


def example_constant(lane: str, name: str, constant: str) -> str:
    tree = ast.parse((EXAMPLE / lane / f"{name}.py").read_text())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == constant)
    value = ast.literal_eval(node.value)
    assert isinstance(value, str)
    return value


BASE_EXPAND = example_body("expand", "ex01_initial_schema")
SYNC_BOTH = f"op.execute({example_constant('expand', 'ex03_users_full_name', 'SYNC_FUNCTION')!r})\n"
ADD_FULL_NAME = 'op.add_column("users", sa.Column("full_name", sa.Text(), nullable=True))\n'
TRIGGER = (
    'op.execute("CREATE TRIGGER users_sync_full_name BEFORE {events} ON users '
    'FOR EACH ROW EXECUTE FUNCTION users_sync_full_name()")\n'
)
RENAME_MIGRATE = example_body("migrate", "mg03_users_full_name")
RENAME_CONTRACT = example_body("contract", "ct03_users_full_name")
RENAMES = {"users.name": "users.full_name"}

NOT_NULL_CONTRACT = """
op.execute("ALTER TABLE users ADD CONSTRAINT users_plan_not_null CHECK (plan IS NOT NULL) NOT VALID")
with op.get_context().autocommit_block():
    op.execute("ALTER TABLE users VALIDATE CONSTRAINT users_plan_not_null")
op.execute("ALTER TABLE users ALTER COLUMN plan SET NOT NULL")
op.execute("ALTER TABLE users DROP CONSTRAINT users_plan_not_null")
"""
PLAN = "    plan = sa.Column(sa.Text, server_default=sa.text(\"'free'\"), nullable=False)"
ADD_PLAN = (
    'op.add_column("users", sa.Column("plan", sa.Text(), nullable=True))\n'
    'op.alter_column("users", "plan", server_default=sa.text("\'free\'"))\n'
)
CHECK_NOT_VALID = (
    'op.execute("ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total_cents >= 0) NOT VALID")\n'
)
VALIDATE_CHECK = 'op.execute("ALTER TABLE orders VALIDATE CONSTRAINT orders_total_check")\n'
NAME_BACKFILL = 'op.backfill("users", values={"name": "\'\'"}, where="name IS NULL")'
PLAN_BACKFILL = 'op.backfill("users", values={"plan": "\'free\'"}, where="plan IS NULL")'

BIGINT_EXPAND = example_body("expand", "ex04_orders_id_bigint")
BIGINT_MIGRATE = example_body("migrate", "mg04_orders_id_bigint")
BIGINT_CONTRACT = example_body("contract", "ct04_orders_id_bigint")


@dataclass(frozen=True)
class Case:
    slug: str
    kind: str  # the class, as the benchmark reports it
    new_models: str
    expand: str = "pass"
    migrate: str = "pass"
    contract: str = "pass"
    renames: dict[str, str] | None = None
    expect: tuple[str, str, str | None] | None = None  # (kind, phase, release); None: a safe change
    counterpart: str = ""  # an unsafe case's safe counterpart (slug)
    linted: bool = True
    heavy: bool = False

    @property
    def safe(self) -> bool:
        return self.expect is None


PLAN_MODELS = models(NAME + "\n" + PLAN)

SAFE: tuple[Case, ...] = (
    Case(
        "rename-with-two-way-trigger",
        "rename through a new column and a two-way sync trigger",
        models(FULL_NAME),
        expand=ADD_FULL_NAME + SYNC_BOTH + TRIGGER.format(events="INSERT OR UPDATE OF name, full_name"),
        migrate=RENAME_MIGRATE,
        contract=RENAME_CONTRACT,
        renames=RENAMES,
    ),
    Case(
        "drop-column-in-contract",
        "drop a column once no release maps it",
        models(""),
        contract='op.drop_column("users", "name")',
    ),
    Case(
        "drop-table-in-contract",
        "drop a table once no release maps it",
        models(orders=None),
        contract='op.drop_table("orders")',
    ),
    Case(
        "rename-table-with-view",
        "rename a table, a view under the old name until the contract",
        models(orders="purchases"),
        expand='op.rename_table("orders", "purchases")\nop.execute("CREATE VIEW orders AS SELECT * FROM purchases")',
        contract='op.execute("DROP VIEW orders")',
    ),
    Case(
        "required-column-in-three-phases",
        "nullable column, backfill, NOT NULL through a check validated in the contract",
        PLAN_MODELS,
        expand=ADD_PLAN,
        migrate=PLAN_BACKFILL,
        contract=NOT_NULL_CONTRACT,
    ),
    Case(
        "widen-key-with-cast",
        "bigint copy, backfill, swap; the new release reads CAST(id AS BIGINT)",
        models(key="BigIntKey"),
        expand=BIGINT_EXPAND,
        migrate=BIGINT_MIGRATE,
        contract=BIGINT_CONTRACT,
    ),
    Case(
        "index-concurrently",
        "CREATE INDEX CONCURRENTLY in an autocommit block",
        models(),
        expand="with op.get_context().autocommit_block():\n"
        '    op.create_index("ix_users_email", "users", ["email", "name"], postgresql_concurrently=True)',
    ),
    Case(
        "default-then-backfill",
        "nullable column, default for new rows, batched backfill",
        models(NAME),
        expand='op.add_column("users", sa.Column("token", sa.Text()))\n'
        'op.alter_column("users", "token", server_default=sa.text("md5(random()::text)"))',
        migrate='op.backfill("users", values={"token": "md5(random()::text)"}, where="token IS NULL")',
    ),
    Case(
        "unique-using-index",
        "unique index built concurrently, constraint added USING INDEX",
        models(),
        expand="with op.get_context().autocommit_block():\n"
        '    op.create_index("users_email_key", "users", ["email", "name"], unique=True, postgresql_concurrently=True)',
        contract='op.execute("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key")',
    ),
    Case(
        "validate-in-own-transaction",
        "CHECK NOT VALID, VALIDATE in an autocommit block",
        models(),
        contract=CHECK_NOT_VALID + "with op.get_context().autocommit_block():\n    " + VALIDATE_CHECK,
    ),
    Case(
        "not-null-through-check",
        "SET NOT NULL proved by a validated check",
        models("    name = sa.Column(sa.Text, nullable=False)"),
        migrate=NAME_BACKFILL,
        contract='op.execute("ALTER TABLE users ADD CONSTRAINT users_name_not_null "\n'
        '           "CHECK (name IS NOT NULL) NOT VALID")\n'
        "with op.get_context().autocommit_block():\n"
        '    op.execute("ALTER TABLE users VALIDATE CONSTRAINT users_name_not_null")\n'
        'op.alter_column("users", "name", nullable=False, existing_type=sa.Text())\n'
        'op.execute("ALTER TABLE users DROP CONSTRAINT users_name_not_null")',
    ),
)

_safe = {c.slug: c for c in SAFE}


def _unsafe(slug: str, kind: str, counterpart: str, expect: tuple[str, str, str | None], **changes: object) -> Case:
    base = _safe[counterpart]
    fields = {**base.__dict__, "slug": slug, "kind": kind, "expect": expect, "counterpart": counterpart, **changes}
    return Case(**fields)  # type: ignore[arg-type]


UNSAFE: tuple[Case, ...] = (
    _unsafe(
        "rename-column",
        "rename a column in one step",
        "rename-with-two-way-trigger",
        ("app-error", "expand", "old"),
        expand='op.alter_column("users", "name", new_column_name="full_name")',
        migrate="pass",
        contract="pass",
        renames=None,
    ),
    _unsafe(
        "one-sided-sync-trigger",
        "sync trigger copies old -> new only",
        "rename-with-two-way-trigger",
        ("divergence", "expand", None),
        expand=ADD_FULL_NAME + 'op.execute("CREATE FUNCTION users_sync_full_name() RETURNS trigger LANGUAGE plpgsql AS '
        '$$ BEGIN NEW.full_name := NEW.name; RETURN NEW; END $$")\n'
        + TRIGGER.format(events="INSERT OR UPDATE OF name"),
        linted=False,
    ),
    _unsafe(
        "trigger-misses-updates",
        "sync trigger fires on INSERT only",
        "rename-with-two-way-trigger",
        ("divergence", "expand", None),
        expand=ADD_FULL_NAME + SYNC_BOTH + TRIGGER.format(events="INSERT"),
        linted=False,
    ),
    _unsafe(
        "backfill-misses-rows",
        "backfill WHERE skips rows",
        "rename-with-two-way-trigger",
        ("divergence", "migrate", None),
        migrate='op.backfill("users", values={"full_name": "name"}, where="full_name IS NULL AND id % 2 = 0")',
        linted=False,
    ),
    _unsafe(
        "drop-column",
        "drop a column the old release reads",
        "drop-column-in-contract",
        ("app-error", "expand", "old"),
        expand='op.drop_column("users", "name")',
        contract="pass",
    ),
    _unsafe(
        "contract-drops-mapped-column",
        "contract drops a column the new release still maps",
        "drop-column-in-contract",
        ("app-error", "contract", "new"),
        new_models=models(NAME),
        linted=False,
    ),
    _unsafe(
        "drop-table",
        "drop a table the old release uses",
        "drop-table-in-contract",
        ("app-error", "expand", "old"),
        expand='op.drop_table("orders")',
        contract="pass",
    ),
    _unsafe(
        "rename-table",
        "rename a table in one step",
        "rename-table-with-view",
        ("app-error", "expand", "old"),
        expand='op.rename_table("orders", "purchases")',
        contract="pass",
    ),
    _unsafe(
        "add-required-column",
        "add a NOT NULL column without a default",
        "required-column-in-three-phases",
        ("phase-failed", "expand", None),
        expand='op.add_column("users", sa.Column("plan", sa.Text(), nullable=False))',
        migrate="pass",
        contract="pass",
    ),
    _unsafe(
        "not-valid-check-before-backfill",
        "NOT VALID check before the backfill",
        "required-column-in-three-phases",
        ("app-error", "expand", "old"),
        expand=ADD_PLAN
        + 'op.execute("ALTER TABLE users ADD CONSTRAINT users_plan_not_null CHECK (plan IS NOT NULL) NOT VALID")',
        contract="with op.get_context().autocommit_block():\n"
        '    op.execute("ALTER TABLE users VALIDATE CONSTRAINT users_plan_not_null")\n'
        'op.execute("ALTER TABLE users ALTER COLUMN plan SET NOT NULL")',
    ),
    _unsafe(
        "change-column-type",
        "change a column's type in place",
        "widen-key-with-cast",
        ("app-error", "expand", "old"),
        expand='op.alter_column("orders", "id", type_=sa.BigInteger(), existing_type=sa.Integer())',
        migrate="pass",
        contract="pass",
        new_models=models(key="sa.BigInteger"),
    ),
    _unsafe(
        "naive-bigint-swap",
        "the new release maps a widened key as plain bigint",
        "widen-key-with-cast",
        ("app-error", "contract", "new"),
        new_models=models(key="sa.BigInteger"),
        linted=False,
    ),
    _unsafe(
        "unbatched-backfill",
        "backfill in one UPDATE",
        "required-column-in-three-phases",
        ("stall", "migrate", "new"),
        migrate="op.execute(\"UPDATE users SET plan = 'free' WHERE plan IS NULL\")",
        heavy=True,
    ),
    _unsafe(
        "backfill-in-ddl-transaction",
        "backfill in the transaction of the ADD COLUMN",
        "required-column-in-three-phases",
        ("stall", "expand", "old"),
        expand=ADD_PLAN + "op.execute(\"UPDATE users SET plan = 'free'\")",
        migrate="pass",
        heavy=True,
    ),
    _unsafe(
        "create-index-non-concurrently",
        "CREATE INDEX without CONCURRENTLY",
        "index-concurrently",
        ("stall", "expand", "old"),
        expand='op.create_index("ix_users_email", "users", ["email", "name"])',
        heavy=True,
    ),
    _unsafe(
        "add-column-volatile-default",
        "ADD COLUMN with a volatile default (a rewrite)",
        "default-then-backfill",
        ("stall", "expand", "old"),
        expand='op.add_column("users", sa.Column("token", sa.Text(), server_default=sa.text("md5(random()::text)")))',
        migrate="pass",
        heavy=True,
    ),
    _unsafe(
        "add-unique-constraint",
        "ADD UNIQUE without USING INDEX",
        "unique-using-index",
        ("stall", "contract", "new"),
        expand="pass",
        contract='op.execute("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email, name)")',
        heavy=True,
    ),
    _unsafe(
        "validate-constraint-same-transaction",
        "ADD NOT VALID and VALIDATE in one transaction",
        "validate-in-own-transaction",
        ("stall", "contract", "new"),
        contract=CHECK_NOT_VALID + VALIDATE_CHECK,
        heavy=True,
    ),
    _unsafe(
        "add-check-validated",
        "ADD CHECK without NOT VALID",
        "validate-in-own-transaction",
        ("stall", "contract", "new"),
        contract='op.execute("ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total_cents >= 0)")',
        heavy=True,
    ),
    _unsafe(
        "set-not-null",
        "SET NOT NULL without a validated check",
        "not-null-through-check",
        ("stall", "contract", "new"),
        contract='op.alter_column("users", "name", nullable=False, existing_type=sa.Text())',
        heavy=True,
    ),
)
CASES: tuple[Case, ...] = UNSAFE + SAFE


@dataclass(frozen=True)
class Built:
    root: Path  # the new release's project
    old: Path  # the old release's project (a copy before the change)
    old_models: str
    new_models: str


def build(where: Path, case: Case) -> Built:
    """The project at the first release, copied as the old release, then with the case's change added."""
    from tests.phases.conftest import ProjectFactory

    factory = ProjectFactory(where / "app")
    factory.new("initial-schema", ("expand",), expand=BASE_EXPAND)
    (factory.root / "models_old.py").write_text(OLD_MODELS)
    old = where / "old"
    shutil.copytree(factory.root, old)
    phases = tuple(p for p in ("expand", "migrate", "contract") if getattr(case, p) != "pass" or p == "expand")
    made = factory.new("planted", phases, **{p: getattr(case, p) for p in phases})
    if case.renames:
        path = made["expand"]
        path.write_text(path.read_text() + f"\nec_renames = {case.renames!r}\n")
    (factory.root / "models_new.py").write_text(case.new_models)
    return Built(factory.root, old, str(old / "models_old.py") + ":Base", str(factory.root / "models_new.py") + ":Base")
