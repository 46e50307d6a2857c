"""Statement patterns several rules share (the destructive ones feed both their catalogue rule and
`destructive-outside-contract`), read from pglast JSON nodes."""

from __future__ import annotations

from expandcontract.record import Record
from expandcontract.sql.nodes import TypeSpec, is_null_constant, table_name, type_spec
from expandcontract.sql.parse import Statement

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    Node = dict[str, Any]

# statements that change no schema (everything else counts as DDL for `ddl-in-migrate`)
NOT_DDL = {
    "SelectStmt",
    "UpdateStmt",
    "DeleteStmt",
    "InsertStmt",
    "MergeStmt",
    "TransactionStmt",
    "VariableSetStmt",
    "VariableShowStmt",
    "DoStmt",
    "CopyStmt",
    "NotifyStmt",
    "ExplainStmt",
    "CallStmt",
    "DynamicExecute",
    "LockStmt",
    "VacuumStmt",
    "CheckPointStmt",
    "DiscardStmt",
}


def alter_cmds(stmt: Statement) -> list[tuple[str, Node]]:
    """(table, AlterTableCmd) for each subcommand of an ALTER TABLE (computed once per statement: most
    rules look at ALTER TABLE)."""
    found: list[tuple[str, Node]] | None = stmt.cache.get("cmds")
    if found is None:
        found = []
        if stmt.kind == "AlterTableStmt" and stmt.node.get("objtype") == "OBJECT_TABLE":
            table = table_name(stmt.node.get("relation"))
            found = [(table, cmd.get("AlterTableCmd", {})) for cmd in stmt.node.get("cmds", ())]
        stmt.cache["cmds"] = found
    return found


def _by_subtype(stmt: Statement) -> dict[str, list[tuple[str, Node]]]:
    """alter_cmds grouped by subtype, once per statement (a dozen rules each ask for one subtype)."""
    found: dict[str, list[tuple[str, Node]]] | None = stmt.cache.get("by_subtype")
    if found is None:
        found = {}
        for table, cmd in alter_cmds(stmt):
            found.setdefault(cmd.get("subtype", ""), []).append((table, cmd))
        stmt.cache["by_subtype"] = found
    return found


def alter_subtypes(stmt: Statement) -> frozenset[str]:
    """The subtypes among an ALTER TABLE's subcommands (empty for any other statement, and for an ALTER
    whose objtype is not OBJECT_TABLE: alter_cmds yields nothing there): the engine picks rules by it."""
    return frozenset(_by_subtype(stmt))


def added_columns(stmt: Statement) -> Iterator[tuple[str, Node]]:
    found: list[tuple[str, Node]] | None = stmt.cache.get("added_columns")
    if found is None:  # computed once per statement: most ALTER TABLE rules ask for it
        found = [(t, cmd.get("def", {}).get("ColumnDef", {})) for t, cmd in _by_subtype(stmt).get("AT_AddColumn", ())]
        stmt.cache["added_columns"] = found
    return iter(found)


def column_constraints(coldef: Node) -> list[Node]:
    return [c.get("Constraint", {}) for c in coldef.get("constraints", ())]


_SERIAL = {"serial", "bigserial", "smallserial", "serial4", "serial8", "serial2"}


def fills_existing_rows(coldef: Node) -> bool:
    """ADD COLUMN that gives rows already in the table a value: a non-NULL default, identity, a
    generated expression, or a serial type (a later SET DEFAULT does not: old rows stay NULL)."""
    for con in column_constraints(coldef):
        kind = con.get("contype")
        if kind in ("CONSTR_IDENTITY", "CONSTR_GENERATED"):
            return True
        if kind == "CONSTR_DEFAULT" and not is_null_constant(con.get("raw_expr")):
            return True
    return type_spec(coldef.get("typeName", {})).name in _SERIAL


def added_constraints(stmt: Statement) -> Iterator[tuple[str, Node]]:
    found: list[tuple[str, Node]] | None = stmt.cache.get("added_constraints")
    if found is None:  # computed once per statement: most ALTER TABLE rules ask for it
        by_subtype = _by_subtype(stmt).get("AT_AddConstraint", ())
        found = [(t, cmd.get("def", {}).get("Constraint", {})) for t, cmd in by_subtype]
        stmt.cache["added_constraints"] = found
    return iter(found)


def dropped_columns(stmt: Statement) -> Iterator[tuple[str, str]]:
    for table, cmd in _by_subtype(stmt).get("AT_DropColumn", ()):
        yield table, str(cmd.get("name", ""))


def dropped_tables(stmt: Statement) -> Iterator[str]:
    if stmt.kind == "DropStmt" and stmt.node.get("removeType") == "OBJECT_TABLE":
        for obj in stmt.node.get("objects", ()):
            items = obj.get("List", {}).get("items", obj) if isinstance(obj, dict) else obj
            parts = [p.get("String", {}).get("sval", "") for p in items]
            if len(parts) > 1 and parts[0] == "public":
                parts = parts[1:]
            yield ".".join(parts)


def renamed_column(stmt: Statement) -> tuple[str, str, str] | None:
    n = stmt.node
    relation_types = ("OBJECT_TABLE", "OBJECT_FOREIGN_TABLE", None)
    if stmt.kind == "RenameStmt" and n.get("renameType") == "OBJECT_COLUMN" and n.get("relationType") in relation_types:
        return table_name(n.get("relation")), str(n.get("subname", "")), str(n.get("newname", ""))
    return None


def renamed_table(stmt: Statement) -> tuple[str, str] | None:
    n = stmt.node
    if stmt.kind == "RenameStmt" and n.get("renameType") == "OBJECT_TABLE":
        return table_name(n.get("relation")), str(n.get("newname", ""))
    return None


class TypeChange(Record):
    __slots__ = ("column", "new", "table", "using")

    def __init__(self, table: str, column: str, new: TypeSpec, using: bool) -> None:
        self.table = table
        self.column = column
        self.new = new
        self.using = using


def type_changes(stmt: Statement) -> Iterator[TypeChange]:
    for table, cmd in _by_subtype(stmt).get("AT_AlterColumnType", ()):
        coldef = cmd.get("def", {}).get("ColumnDef", {})
        new = type_spec(coldef.get("typeName", {}))
        yield TypeChange(table, str(cmd.get("name", "")), new, "raw_default" in coldef)


def has_option(options: Any, name: str) -> bool:
    return any(opt.get("DefElem", {}).get("defname") == name for opt in options or ())


def option_on(options: Any, name: str) -> bool:
    """`VACUUM (FULL)` / `(FULL true)` / `(FULL 1)`, not `(FULL false)` / `(FULL off)` / `(FULL 0)`."""
    for opt in options or ():
        elem = opt.get("DefElem", {})
        if elem.get("defname") != name:
            continue
        arg = elem.get("arg")
        if arg is None:
            return True
        value = arg.get("String", {}).get("sval") or arg.get("Integer", {}).get("ival", arg.get("Boolean", {}))
        if isinstance(arg.get("Boolean"), dict):
            return bool(arg["Boolean"].get("boolval"))
        return str(value).lower() not in ("false", "off", "0", "no", "{}")
    return False


def is_ddl(stmt: Statement) -> bool:
    if stmt.kind in NOT_DDL:
        return False
    if stmt.kind == "CreateTableAsStmt":
        return bool(stmt.node.get("into", {}).get("rel", {}).get("relpersistence") != "t")
    return not (stmt.kind == "CreateStmt" and stmt.node.get("relation", {}).get("relpersistence") == "t")
