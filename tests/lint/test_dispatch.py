"""The engine runs a rule only for the statements it looks at (Rule.kinds): by statement kind, and for
ALTER TABLE by the subtypes of its subcommands (Selection.alter_rules). Skipping a rule must never lose
a finding: a rule that names too few subtypes would go quiet on the statements it should flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from expandcontract.lint.api import LintOptions, lint_sql
from expandcontract.lint.context import LintContext, MigrationState
from expandcontract.lint.engine import Unit, run
from expandcontract.lint.match import alter_subtypes
from expandcontract.lint.registry import ALTER_TABLE, Selection, all_rules
from expandcontract.lint.rule import Rule
from expandcontract.sql.parse import Statement, parse
from expandcontract.sql.schema import SchemaModel
from tests.lint.rule_cases import FLAG, PASS, options

CORPUS = Path(__file__).parent / "corpus"

# one ALTER TABLE per subtype a rule names: a rule naming a new subtype needs its sample here
SAMPLES = {
    "AT_AddColumn": "ALTER TABLE users ADD COLUMN c int NOT NULL",
    "AT_AddConstraint": "ALTER TABLE users ADD CONSTRAINT users_c CHECK (id > 0)",
    "AT_AlterColumnType": "ALTER TABLE users ALTER COLUMN id TYPE bigint",
    "AT_DetachPartition": "ALTER TABLE events DETACH PARTITION events_2020",
    "AT_DropColumn": "ALTER TABLE users DROP COLUMN email",
    "AT_SetNotNull": "ALTER TABLE users ALTER COLUMN email SET NOT NULL",
    "AT_ValidateConstraint": "ALTER TABLE users VALIDATE CONSTRAINT users_c",
    "AT_SetRelOptions": "ALTER TABLE users SET (fillfactor = 70)",  # a subtype no rule names
}


class EveryRule(Selection):
    """No dispatch: every statement rule runs on every statement (what the dispatch must equal)."""

    def rules_by_kind(self) -> dict[str, list[Rule]]:
        return {"": self.statement_rules()}

    def alter_rules(self, subtypes: frozenset[str]) -> list[Rule]:
        return self.statement_rules()


def _statement(sql: str) -> Statement:
    (stmt,) = parse(sql).statements
    return stmt


def _named(rule: Rule) -> set[str]:
    return {k.partition(".")[2] for k in rule.kinds or () if k.startswith(f"{ALTER_TABLE}.")}


def _every_alter(rule: Rule) -> bool:
    return rule.kinds is None or ALTER_TABLE in rule.kinds


def test_kinds_name_real_alter_table_subtypes() -> None:
    from pglast.enums.parsenodes import AlterTableType

    valid = {m.name for m in AlterTableType}
    for rule in all_rules().values():
        for entry in rule.kinds or ():
            kind, dot, subtype = entry.partition(".")
            assert not dot or (kind == ALTER_TABLE and subtype in valid), f"{rule.id}: {entry!r}"
    assert set().union(*map(_named, all_rules().values())) <= set(SAMPLES)


@pytest.mark.parametrize("subtype", sorted(SAMPLES))
def test_alter_table_runs_the_rules_naming_its_subtypes(subtype: str) -> None:
    stmt = _statement(SAMPLES[subtype])
    assert alter_subtypes(stmt) == {subtype}
    selection = Selection()
    chosen = selection.alter_rules(alter_subtypes(stmt))
    for rule in selection.statement_rules():
        assert (rule in chosen) == (_every_alter(rule) or subtype in _named(rule)), rule.id
    assert selection.alter_rules(alter_subtypes(_statement(SAMPLES[subtype]))) is chosen  # cached


def test_alter_of_something_else_than_a_table_has_no_subtypes() -> None:
    stmt = _statement("ALTER INDEX users_pkey SET (fillfactor = 70)")
    assert stmt.kind == ALTER_TABLE and alter_subtypes(stmt) == frozenset()
    selection = Selection()
    assert selection.alter_rules(frozenset()) == selection.rules_by_kind()[ALTER_TABLE]
    assert all(_every_alter(r) for r in selection.alter_rules(frozenset()))


def _run(sql: str, selection: Selection) -> list[str]:
    ctx = LintContext(
        pg_version=15,
        phase=None,
        change_has_expand=False,
        alembic=False,
        schema=SchemaModel(),
        state=MigrationState(in_transaction=True),
    )
    return [f.rule for f in run([Unit(parse(sql).statements)], ctx, selection, "m.sql")]


def test_mixed_subcommands_get_both_rule_families_in_registry_order() -> None:
    sql = "ALTER TABLE users ADD COLUMN a int NOT NULL, DROP COLUMN b;"
    assert alter_subtypes(_statement(sql)) == {"AT_AddColumn", "AT_DropColumn"}
    order = list(all_rules())
    found = _run(sql, Selection())
    assert found == ["drop-column", "add-required-column"]  # drop_column comes first in RULE_MODULES
    assert found == sorted(found, key=order.index) == _run(sql, EveryRule())


def _same_findings(sql: str, opts: LintOptions) -> None:
    dispatched = lint_sql(sql, "m.sql", opts)
    opts.selection = EveryRule()
    assert dispatched == lint_sql(sql, "m.sql", opts)


@pytest.mark.parametrize(("sql", "expected", "opts"), FLAG + PASS)
def test_dispatch_loses_no_finding_of_the_rule_cases(sql: str, expected: set[str], opts: dict[str, object]) -> None:
    _same_findings(sql, options(opts))


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.sql")), ids=lambda p: p.stem)
def test_dispatch_loses_no_finding_of_the_corpus(path: Path) -> None:
    sql = path.read_text()
    for phase in (None, "expand", "contract"):
        for transaction in ("per-file", "none"):
            _same_findings(sql, LintOptions(phase=phase, transaction=transaction))
