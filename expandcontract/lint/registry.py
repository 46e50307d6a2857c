"""Every rule, by id. Adding a rule = its module under lint/rules/ + one line in RULE_MODULES."""

from __future__ import annotations

import sys

from expandcontract.errors import UsageError
from expandcontract.lint.rule import CATALOGUE, GRAPH, META, PHASE, Rule
from expandcontract.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable

ALTER_TABLE = "AlterTableStmt"  # the kind whose rules can be narrowed to subcommand subtypes (Rule.kinds)

RULE_MODULES = (
    # catalogue (lint-rules.md)
    "drop_column",
    "drop_table",
    "rename_column",
    "rename_table",
    "change_column_type",
    "add_column_volatile_default",
    "add_required_column",
    "add_serial_column",
    "add_generated_stored_column",
    "create_index_non_concurrently",
    "drop_index_non_concurrently",
    "concurrently_in_transaction",
    "add_foreign_key_validated",
    "add_check_validated",
    "validate_constraint_same_transaction",
    "set_not_null",
    "add_unique_constraint",
    "add_primary_key",
    "add_exclusion_constraint",
    "reindex_non_concurrently",
    "detach_partition_non_concurrently",
    "vacuum_full_or_cluster",
    "backfill_in_ddl_transaction",
    "not_valid_check_before_backfill",
    "statements_before_autocommit_block",
    # phase placement
    "destructive_outside_contract",
    "ddl_in_migrate",
    "unbatched_backfill",
    "contract_without_expand",
    # project graph (additions)
    "multiple_lane_heads",
    "phase_lane_mismatch",
    # meta
    "syntax_error",
    "not_analysable",
    "unused_ignore",
    "ignore_without_reason",
)

_RULES: dict[str, Rule] | None = None


def all_rules() -> dict[str, Rule]:
    global _RULES
    if _RULES is None:
        rules: dict[str, Rule] = {}
        for name in RULE_MODULES:
            qualified = f"expandcontract.lint.rules.{name}"
            __import__(qualified)  # importlib.import_module would import importlib (and warnings)
            module = sys.modules[qualified]
            rule: Rule = module.RULE()
            rules[rule.id] = rule
        _RULES = rules
    return _RULES


def get_rule(rule_id: str) -> Rule:
    rules = all_rules()
    if rule_id not in rules:
        raise UsageError(f"unknown rule {rule_id!r}; `expandcontract rule --list` shows every rule id")
    return rules[rule_id]


def _check_ids(ids: Iterable[str], where: str) -> tuple[str, ...]:
    rules = all_rules()
    out = tuple(i.strip() for i in ids if i.strip())
    for i in out:
        if i not in rules and i not in ("ALL", "all"):
            raise UsageError(f"{where}: unknown rule id {i!r}; valid ids: {', '.join(sorted(rules))}")
    return out


class Selection(Record):
    """Which rules run and at which severity (`--select`, `--ignore`, config `severity`)."""

    __slots__ = ("_by_kind", "_by_subtypes", "_statement_rules", "downgrade", "ignore", "select", "severities")
    _hidden = ("_statement_rules", "_by_kind", "_by_subtypes")

    def __init__(
        self,
        select: tuple[str, ...] = (),
        ignore: tuple[str, ...] = (),
        severities: dict[str, str] | None = None,
        downgrade: str = "warning",  # severity of findings in downgrade() ("off": downgrades are not linted)
    ) -> None:
        self.select = _check_ids(select, "--select")
        self.ignore = _check_ids(ignore, "--ignore")
        self.severities = severities if severities is not None else {}
        self.downgrade = downgrade
        _check_ids(self.severities, "severity")
        for rid, sev in self.severities.items():
            if sev not in ("error", "warning", "off"):
                raise UsageError(f"severity for {rid!r} must be 'error', 'warning' or 'off', not {sev!r}")
        self._statement_rules: list[Rule] | None = None
        self._by_kind: dict[str, list[Rule]] | None = None
        self._by_subtypes: dict[frozenset[str], list[Rule]] = {}

    def enabled(self, rule_id: str) -> bool:
        if rule_id in self.ignore or self.severities.get(rule_id) == "off":
            return False
        if self.select and "ALL" not in self.select and "all" not in self.select:
            return rule_id in self.select or rule_id == "syntax-error"
        return True

    def severity(self, rule: Rule, direction: str = "upgrade") -> str:
        level = self.severities.get(rule.id, rule.severity)
        if direction == "downgrade" and self.downgrade == "warning":
            return "warning"
        return level

    def statement_rules(self) -> list[Rule]:
        if self._statement_rules is None:
            self._statement_rules = [
                r for r in all_rules().values() if r.kind in (CATALOGUE, PHASE) and self.enabled(r.id)
            ]
        return self._statement_rules

    def rules_by_kind(self) -> dict[str, list[Rule]]:
        """Statement kind -> the rules that look at it ("" -> rules for any other kind). For ALTER TABLE:
        the rules that look at every ALTER TABLE; alter_rules() adds those naming its subtypes."""
        if self._by_kind is None:
            rules = self.statement_rules()
            kinds = {k.partition(".")[0] for r in rules for k in (r.kinds or ())}
            generic = [r for r in rules if r.kinds is None]
            self._by_kind = {k: [r for r in rules if r.kinds is None or k in r.kinds] for k in kinds}
            self._by_kind[""] = generic
        return self._by_kind

    def alter_rules(self, subtypes: frozenset[str]) -> list[Rule]:
        """The rules for an ALTER TABLE whose subcommands have these subtypes (match.alter_subtypes), in
        registry order (findings come out in it): generic ones, bare "AlterTableStmt" ones, and those
        naming one of the subtypes. Cached per set of subtypes: a migration repeats a handful of them."""
        found = self._by_subtypes.get(subtypes)
        if found is None:
            wanted = {f"{ALTER_TABLE}.{sub}" for sub in subtypes}
            found = [
                r
                for r in self.statement_rules()
                if r.kinds is None or ALTER_TABLE in r.kinds or not wanted.isdisjoint(r.kinds)
            ]
            self._by_subtypes[subtypes] = found
        return found


__all__ = ["CATALOGUE", "GRAPH", "META", "PHASE", "Selection", "all_rules", "get_rule"]
