"""Steps several recipes share: NOT NULL through a validated check, a constraint added NOT VALID and
validated in its own transaction, and the migrate phase's check that no existing row breaks a rule."""

from __future__ import annotations

from expandcontract.recipes import code
from expandcontract.recipes.code import Step
from expandcontract.recipes.sqltext import ident, literal, qualified, short_name


def not_null(table: str, table_name: str, column: str) -> list[Step]:
    """SET NOT NULL without the scan under ACCESS EXCLUSIVE: a NOT VALID check, VALIDATE in its own
    transaction (it blocks no writes), then SET NOT NULL, which PostgreSQL 12+ proves from the check."""
    t, c = qualified(table), ident(column)
    check = ident(short_name(table_name, column, "not_null"))
    return [
        *add_validated(table, check, f"CHECK ({c} IS NOT NULL)"),
        code.sql(f"ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL"),
        code.sql(f"ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {check}"),
    ]


def add_validated(table: str, name: str, definition: str) -> list[Step]:
    """ADD CONSTRAINT ... NOT VALID (re-runnable: a copy left by a failed attempt is dropped first), then
    VALIDATE in a transaction of its own, so the ADD's ACCESS EXCLUSIVE lock is not held through the scan."""
    t = qualified(table)
    return [
        code.sql(
            f"ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {name}", comment="re-runnable: drop what a failed attempt left"
        ),
        code.sql(f"ALTER TABLE {t} ADD CONSTRAINT {name} {definition} NOT VALID"),
        code.sql(f"ALTER TABLE {t} VALIDATE CONSTRAINT {name}", autocommit=True),
    ]


def rows_must_pass(constant: str, bad_rows: str, message: str, hint: str) -> tuple[dict[str, str], Step]:
    """A DO block that fails the migrate phase when `bad_rows` (a query) finds a row: the contract's
    constraint would then fail to validate, after a NOT VALID copy had already begun to reject UPDATEs of
    those rows. Reads only (a scan that blocks no writes)."""
    sql = f"""
DO $$
BEGIN
    IF EXISTS ({bad_rows}) THEN
        RAISE EXCEPTION {literal(message)}
            USING HINT = {literal(hint)};
    END IF;
END
$$"""
    return {constant: sql}, code.run_constant(constant, comment="fails, changing nothing, if any row breaks the rule")
