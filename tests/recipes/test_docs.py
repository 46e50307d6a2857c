"""docs/recipes.md shows, per recipe, the three files `new` writes for its example: this test writes them
again and compares (revision ids and dates aside). `EC_WRITE_DOCS=1` rewrites the blocks instead."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from expandcontract.recipes.add_check import AddCheck
from expandcontract.recipes.add_column import AddColumn
from expandcontract.recipes.add_foreign_key import AddForeignKey
from expandcontract.recipes.add_unique import AddUnique
from expandcontract.recipes.base import Recipe
from expandcontract.recipes.change_type import ChangeType
from expandcontract.recipes.drop_column import DropColumn
from expandcontract.recipes.rename_column import RenameColumn
from expandcontract.recipes.set_not_null import SetNotNull
from tests.recipes.harness import Project

DOC = Path(__file__).parents[2] / "docs" / "recipes.md"

# The example application's schema the docs' examples start from.
SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, email text, plan text, legacy_id integer);
CREATE INDEX ix_users_name ON users (name);
CREATE TABLE orders (id serial PRIMARY KEY, user_id integer NOT NULL, total_cents integer NOT NULL);
CREATE TABLE order_items (id serial PRIMARY KEY, order_id integer NOT NULL REFERENCES orders (id), qty integer)
"""

# (section marker in the doc, change slug, message, recipe)
EXAMPLES: list[tuple[str, str, str, Recipe]] = [
    ("rename-column", "users-full-name", "rename users.name to full_name", RenameColumn("users.name", "full_name")),
    ("change-type", "orders-id-bigint", "orders.id to bigint", ChangeType("orders.id", "bigint")),
    (
        "add-column",
        "users-country",
        "add users.country",
        AddColumn("users.country", "text", default="'unknown'", not_null=True),
    ),
    ("set-not-null", "users-plan", "require users.plan", SetNotNull("users.plan", fill="'free'")),
    (
        "add-foreign-key",
        "orders-user-fk",
        "orders.user_id references users",
        AddForeignKey("orders.user_id", "users.id"),
    ),
    ("add-unique", "users-email-unique", "unique users.email", AddUnique("users.email")),
    (
        "add-check",
        "orders-total-positive",
        "orders.total_cents is never negative",
        AddCheck("orders", "orders_total_cents_positive", "total_cents >= 0"),
    ),
    ("drop-column", "users-drop-legacy-id", "drop users.legacy_id", DropColumn("users.legacy_id")),
]

_IDS = re.compile(r"\b[0-9a-f]{12}\b")
_DATE = re.compile(r"^Create Date: .*$", re.M)


def normalise(text: str) -> str:
    """Revision ids and dates replaced by stable ones, in order of appearance."""
    seen: dict[str, str] = {}
    text = _DATE.sub("Create Date: 2026-12-01 12:00:00.000000", text)
    return _IDS.sub(lambda m: seen.setdefault(m.group(0), f"{len(seen) + 1:x}a1b2c3d4e5f"[-12:]), text)


def block(marker: str, phase: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- example {marker} {phase} -->\n```python\n)(.*?)(```\n)", re.S)


@pytest.mark.parametrize(("marker", "slug", "message", "recipe"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_docs_show_what_new_writes(project: Project, marker: str, slug: str, message: str, recipe: Recipe) -> None:
    project.setup(SCHEMA, "DROP TABLE order_items; DROP TABLE orders; DROP TABLE users")
    paths = project.new(slug, recipe, message=message)
    doc = DOC.read_text()
    for phase, path in paths.items():
        written = normalise(path.read_text())
        pattern = block(marker, phase)
        found = pattern.search(doc)
        assert found is not None, f"docs/recipes.md has no block <!-- example {marker} {phase} -->"
        if os.environ.get("EC_WRITE_DOCS"):
            doc = pattern.sub(lambda m, text=written: m.group(1) + text + m.group(3), doc, count=1)
            continue
        assert normalise(found.group(2)) == written, f"docs/recipes.md {marker} {phase} differs from what new writes"
    if os.environ.get("EC_WRITE_DOCS"):
        DOC.write_text(doc)
