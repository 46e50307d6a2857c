"""Run the rules over one migration, statement by statement, keeping the migration's state: tables it
created, the open transaction and the locks it holds, constraints added NOT VALID, and the schema as the
migration changes it. One migration at a time: a concatenated dump would make every table look new."""

from __future__ import annotations

from expandcontract.lint.context import LintContext
from expandcontract.lint.finding import Finding
from expandcontract.lint.match import alter_cmds, alter_subtypes, fills_existing_rows
from expandcontract.lint.registry import ALTER_TABLE, Selection
from expandcontract.record import Record
from expandcontract.sql import locks
from expandcontract.sql.nodes import TypeSpec, table_name
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable


class Unit(Record):
    """Statements that one source construct produced: a .sql file, or one Alembic op."""

    __slots__ = (
        "backfilled",
        "column",
        "existing_not_null",
        "existing_types",
        "line",
        "op_name",
        "op_table",
        "statements",
    )

    def __init__(
        self,
        statements: list[Statement],
        op_name: str | None = None,
        existing_types: dict[tuple[str, str], TypeSpec] | None = None,
        op_table: str | None = None,
        line: int | None = None,  # the op's line in the revision file (overrides statement lines)
        column: int = 1,
        existing_not_null: set[tuple[str, str]] | None = None,
        backfilled: tuple[str, ...] = (),  # op.backfill: the columns it sets on op_table
    ) -> None:
        self.statements = statements
        self.op_name = op_name
        self.existing_types = existing_types if existing_types is not None else {}
        self.op_table = op_table
        self.line = line
        self.column = column
        self.existing_not_null = existing_not_null if existing_not_null is not None else set()
        self.backfilled = backfilled


def run(
    units: Iterable[Unit],
    ctx: LintContext,
    selection: Selection,
    path: str,
    revision: str | None = None,
) -> list[Finding]:
    """Findings of these units, plus earlier findings this change's backfills made due (their own path)."""
    findings: list[Finding] = []
    by_kind = selection.rules_by_kind()
    generic = by_kind[""]
    for unit in units:
        ctx.op_name = unit.op_name
        ctx.existing_types = unit.existing_types
        ctx.existing_not_null = unit.existing_not_null
        ctx.op_table = unit.op_table
        if unit.backfilled and unit.op_table:
            backfill(ctx, unit.op_table, unit.backfilled, findings, every_row=True)
        for stmt in unit.statements:
            line = unit.line if unit.line is not None else stmt.line
            column = unit.column if unit.line is not None else stmt.column
            if stmt.kind == ALTER_TABLE:  # most rules look at ALTER TABLE, each at a few of its subcommands
                rules = selection.alter_rules(alter_subtypes(stmt))
            else:
                rules = by_kind.get(stmt.kind, generic)
            for rule in rules:
                for hit in rule.check(stmt, ctx):
                    finding = Finding(
                        path=path,
                        line=line,
                        column=column,
                        rule=rule.id,
                        severity=selection.severity(rule, ctx.direction),
                        message=hit.message,
                        why=rule.why,
                        fix=hit.fix,
                        lock=hit.lock,
                        table=hit.table,
                        phase=ctx.phase,
                        revision=revision,
                        direction=ctx.direction,
                    )
                    if hit.pending_on is None:
                        findings.append(finding)
                    else:
                        ctx.change_state.pending.setdefault(hit.pending_on, []).append(finding)
            apply(stmt, ctx, findings)
    return findings


def backfill(ctx: LintContext, table: str, columns: Iterable[str], findings: list[Finding], every_row: bool) -> None:
    """A backfill sets `columns` of `table`: NOT VALID checks added earlier in this change on those
    columns came before their backfill (they become findings); when it sets every row, rows no longer
    hold NULL there."""
    for column in columns:
        key = (table, column)
        if every_row:
            ctx.state.backfilled.add(key)
            ctx.change_state.backfilled.add(key)
        findings.extend(ctx.change_state.pending.pop(key, ()))


_WEAK_ALTER = {"AT_ValidateConstraint": locks.SHARE_UPDATE_EXCLUSIVE, "AT_DetachPartition": None}


def apply(stmt: Statement, ctx: LintContext, findings: list[Finding] | None = None) -> None:
    """Follow the statement's effect on the migration state and the schema."""
    st = ctx.state
    node = stmt.node
    kind = stmt.kind
    if kind == "TransactionStmt" and ctx.op_name == "autocommit_block":
        st.autocommit_blocks += node.get("kind") == "TRANS_STMT_COMMIT"
    elif kind != "TransactionStmt":
        st.statements += 1
    if kind == "UpdateStmt":
        targets = [t.get("ResTarget", {}).get("name") for t in node.get("targetList", ())]
        table = table_name(node.get("relation"))
        backfill(ctx, table, [str(t) for t in targets if t], findings or [], every_row="whereClause" not in node)
        return
    if kind == "TransactionStmt":
        tkind = node.get("kind", "")
        if tkind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
            st.in_transaction = True
            st.end_transaction()
        elif tkind in ("TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_PREPARE"):
            st.in_transaction = False
            st.end_transaction()
        return
    if kind == "CreateStmt":
        st.new_tables.add(table_name(node.get("relation")))
    elif kind == "CreateTableAsStmt":
        st.new_tables.add(table_name(node.get("into", {}).get("rel")))
    elif kind == "IndexStmt":
        table = table_name(node.get("relation"))
        if node.get("idxname"):
            schema = node.get("relation", {}).get("schemaname")
            name = node["idxname"] if not schema or schema == "public" else f"{schema}.{node['idxname']}"
            st.new_indexes[name] = table
        if not node.get("concurrent") and ctx.existing(table):
            _lock(ctx, table, locks.SHARE)
    elif kind == "RenameStmt" and node.get("renameType") == "OBJECT_TABLE":
        old = table_name(node.get("relation"))
        if old in st.new_tables:
            schema = node.get("relation", {}).get("schemaname")
            new = str(node.get("newname"))
            st.new_tables.add(f"{schema}.{new}" if schema and schema != "public" else new)
        else:
            _lock(ctx, old, locks.ACCESS_EXCLUSIVE)
    elif kind == "RenameStmt" and node.get("renameType") == "OBJECT_COLUMN":
        _lock(ctx, table_name(node.get("relation")), locks.ACCESS_EXCLUSIVE)
    elif kind in ("DropStmt", "TruncateStmt", "ClusterStmt", "ReindexStmt") or (
        kind == "VacuumStmt" and node.get("is_vacuumcmd")
    ):
        pass  # the table is gone or was not altered; no backfill of it follows in practice
    for table, cmd in alter_cmds(stmt):
        sub = cmd.get("subtype", "")
        mode = _WEAK_ALTER.get(sub, locks.ACCESS_EXCLUSIVE)
        if sub == "AT_AddConstraint":
            con = cmd.get("def", {}).get("Constraint", {})
            if con.get("contype") == "CONSTR_FOREIGN":
                mode = locks.SHARE_ROW_EXCLUSIVE
            if con.get("skip_validation") and con.get("conname") and st.in_transaction:  # else it commits alone
                st.txn_not_valid.add((table, con["conname"]))
        if sub == "AT_AddColumn":
            coldef = cmd.get("def", {}).get("ColumnDef", {})
            key = (table, str(coldef.get("colname", "")))
            st.new_columns.add(key)
            if ctx.existing(table) and not fills_existing_rows(coldef):
                st.unfilled_columns.add(key)
                ctx.change_state.unfilled_columns.add(key)
        if mode is not None and ctx.existing(table):
            _lock(ctx, table, mode)
    ctx.schema.apply(kind, node)


_STRENGTH = [
    locks.ROW_EXCLUSIVE,
    locks.SHARE_UPDATE_EXCLUSIVE,
    locks.SHARE,
    locks.SHARE_ROW_EXCLUSIVE,
    locks.ACCESS_EXCLUSIVE,
]


def _lock(ctx: LintContext, table: str, mode: str) -> None:
    if not ctx.state.in_transaction or not table:
        return
    held = ctx.state.txn_locks.get(table)
    if held is None or _STRENGTH.index(mode) > _STRENGTH.index(held):
        ctx.state.txn_locks[table] = mode
