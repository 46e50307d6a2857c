"""The schema the migration runs against: column types, NOT NULL, and validated `CHECK (col IS NOT
NULL)` constraints. Built from `pg_dump --schema-only` DDL (`--schema FILE`), from the live database
(`--database-url`), or from earlier revisions' own DDL. A table or column absent from it still counts as
existing; only the type and NOT NULL rules get sharper with it."""

from __future__ import annotations

from expandcontract.record import Record
from expandcontract.sql.nodes import TypeSpec, not_null_check_column, table_name, type_spec

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any


class SchemaModel(Record):
    __slots__ = (
        "columns",
        "constraints",
        "foreign_keys",
        "index_columns",
        "indexes",
        "not_null",
        "not_null_checks",
        "primary_keys",
        "unique_constraints",
        "unique_indexes",
    )

    def __init__(
        self,
        columns: dict[str, dict[str, TypeSpec]] | None = None,
        not_null: set[tuple[str, str]] | None = None,
        not_null_checks: set[tuple[str, str]] | None = None,
        constraints: dict[tuple[str, str], str] | None = None,
        indexes: dict[str, str] | None = None,
        index_columns: dict[str, tuple[str, ...]] | None = None,
        unique_indexes: set[str] | None = None,
        primary_keys: dict[str, tuple[str, tuple[str, ...]]] | None = None,
        unique_constraints: dict[str, dict[str, tuple[str, ...]]] | None = None,
        foreign_keys: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        self.columns = columns if columns is not None else {}
        self.not_null = not_null if not_null is not None else set()
        # validated CHECK (c IS NOT NULL)
        self.not_null_checks = not_null_checks if not_null_checks is not None else set()
        self.constraints = constraints if constraints is not None else {}  # (table, name) -> column
        self.indexes = indexes if indexes is not None else {}  # index -> table
        self.index_columns = index_columns if index_columns is not None else {}  # index -> its plain columns
        self.unique_indexes = unique_indexes if unique_indexes is not None else set()
        self.primary_keys = primary_keys if primary_keys is not None else {}  # table -> (name, cols)
        # table -> name -> cols
        self.unique_constraints = unique_constraints if unique_constraints is not None else {}
        self.foreign_keys = foreign_keys if foreign_keys is not None else {}  # table -> inspector-shaped FKs

    def column_type(self, table: str, column: str) -> TypeSpec | None:
        return self.columns.get(table, {}).get(column)

    def has_not_null_check(self, table: str, column: str) -> bool:
        return (table, column) in self.not_null_checks

    def copy(self) -> SchemaModel:
        return SchemaModel(
            {t: dict(c) for t, c in self.columns.items()},
            set(self.not_null),
            set(self.not_null_checks),
            dict(self.constraints),
            dict(self.indexes),
            dict(self.index_columns),
            set(self.unique_indexes),
            dict(self.primary_keys),
            {t: dict(u) for t, u in self.unique_constraints.items()},
            {t: list(f) for t, f in self.foreign_keys.items()},
        )

    def apply(self, kind: str, node: dict[str, Any]) -> None:
        """Follow one statement's effect on the schema."""
        if kind == "CreateStmt":
            table = table_name(node.get("relation"))
            cols = self.columns.setdefault(table, {})
            for elt in node.get("tableElts", ()):
                if "ColumnDef" in elt:
                    self._column(table, elt["ColumnDef"], cols)
                elif "Constraint" in elt:
                    self._constraint(table, elt["Constraint"])
        elif kind == "AlterTableStmt" and node.get("objtype") == "OBJECT_TABLE":
            table = table_name(node.get("relation"))
            for cmd in node.get("cmds", ()):
                self._alter(table, cmd.get("AlterTableCmd", {}))
        elif kind == "IndexStmt" and node.get("idxname"):
            schema = node.get("relation", {}).get("schemaname")
            name = node["idxname"] if not schema or schema == "public" else f"{schema}.{node['idxname']}"
            self.indexes[name] = table_name(node.get("relation"))
            self.index_columns[name] = tuple(
                str(p.get("IndexElem", {}).get("name"))
                for p in node.get("indexParams", ())
                if p.get("IndexElem", {}).get("name")
            )
            if node.get("unique"):
                self.unique_indexes.add(name)
        elif kind == "RenameStmt" and node.get("renameType") == "OBJECT_TABLE":
            old = table_name(node.get("relation"))
            schema = node.get("relation", {}).get("schemaname")
            new = f"{schema}.{node['newname']}" if schema and schema != "public" else node["newname"]
            self._rename_table(old, str(new))
        elif kind == "RenameStmt" and node.get("renameType") == "OBJECT_COLUMN":
            self._rename_column(table_name(node.get("relation")), str(node.get("subname")), str(node.get("newname")))
        elif kind == "DropStmt" and node.get("removeType") in ("OBJECT_TABLE", "OBJECT_INDEX"):
            for obj in node.get("objects", ()):
                parts = [p.get("String", {}).get("sval", "") for p in obj.get("List", {}).get("items", obj)]
                name = ".".join(p for p in parts if p != "public")
                if node.get("removeType") == "OBJECT_INDEX":
                    self.indexes.pop(name, None)
                    self.unique_indexes.discard(name)
                    continue
                self.columns.pop(name, None)
                for facts in (self.primary_keys, self.unique_constraints, self.foreign_keys):
                    facts.pop(name, None)

    def _column(self, table: str, col: dict[str, Any], cols: dict[str, TypeSpec]) -> None:
        name = col.get("colname", "")
        if "typeName" in col:
            cols[name] = type_spec(col["typeName"])
        for con in col.get("constraints", ()):
            c = con.get("Constraint", {})
            if c.get("contype") in ("CONSTR_NOTNULL", "CONSTR_PRIMARY"):
                self.not_null.add((table, name))
            if c.get("contype") in ("CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_FOREIGN"):
                self._key_constraint(table, c["contype"], c, name)

    def _constraint(self, table: str, con: dict[str, Any], column: str | None = None) -> None:
        kind = con.get("contype")
        if kind in ("CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_FOREIGN"):
            self._key_constraint(table, kind, con, column)
            return
        if kind != "CONSTR_CHECK":
            return
        column = not_null_check_column(con.get("raw_expr"))
        if column is None:
            return
        if con.get("conname"):
            self.constraints[(table, con["conname"])] = column
        if not con.get("skip_validation"):
            self.not_null_checks.add((table, column))

    def _key_constraint(self, table: str, kind: str, con: dict[str, Any], column: str | None) -> None:
        """Primary keys, unique constraints and foreign keys, for the offline inspector."""

        def names(key: str) -> tuple[str, ...]:
            found = tuple(str(k.get("String", {}).get("sval", "")) for k in con.get(key, ()) or ())
            return found or ((column,) if column else ())

        short = table.split(".")[-1]
        if kind == "CONSTR_PRIMARY":
            cols = names("keys")
            self.primary_keys[table] = (str(con.get("conname") or f"{short}_pkey"), cols)
            self.not_null.update((table, c) for c in cols)
        elif kind == "CONSTR_UNIQUE":
            cols = names("keys")
            name = str(con.get("conname") or f"{short}_{'_'.join(cols)}_key")
            self.unique_constraints.setdefault(table, {})[name] = cols
        else:
            cols = names("fk_attrs")
            ref = con.get("pktable") or {}
            self.foreign_keys.setdefault(table, []).append(
                {
                    "name": con.get("conname") or f"{short}_{'_'.join(cols)}_fkey",
                    "constrained_columns": list(cols),
                    "referred_schema": ref.get("schemaname"),
                    "referred_table": ref.get("relname"),
                    "referred_columns": [
                        str(k.get("String", {}).get("sval", "")) for k in con.get("pk_attrs", ()) or ()
                    ],
                    "options": {},
                }
            )

    def _drop_constraint(self, table: str, name: str) -> None:
        pk = self.primary_keys.get(table)
        if pk and pk[0] == name:
            del self.primary_keys[table]
        self.unique_constraints.get(table, {}).pop(name, None)
        fks = self.foreign_keys.get(table)
        if fks:
            self.foreign_keys[table] = [fk for fk in fks if fk.get("name") != name]
        self.constraints.pop((table, name), None)

    def _rename_table(self, old: str, new: str) -> None:
        """Every fact about `old` now belongs to `new` (columns, NOT NULLs, checks, keys, indexes)."""
        _move(self.columns, old, new)
        _move(self.primary_keys, old, new)
        _move(self.unique_constraints, old, new)
        _move(self.foreign_keys, old, new)
        for pairs in (self.not_null, self.not_null_checks):
            moved = {(t, c) for t, c in pairs if t == old}
            pairs -= moved
            pairs |= {(new, c) for _, c in moved}
        self.constraints = {(new if t == old else t, n): c for (t, n), c in self.constraints.items()}
        self.indexes = {i: new if t == old else t for i, t in self.indexes.items()}

    def _rename_column(self, table: str, old: str, new: str) -> None:
        """The column's type, NOT NULL, checks and key membership follow it to its new name."""
        cols = self.columns.get(table, {})
        if old in cols:
            cols[new] = cols.pop(old)
        for pairs in (self.not_null, self.not_null_checks):
            if (table, old) in pairs:
                pairs.discard((table, old))
                pairs.add((table, new))
        self.constraints = {k: new if k[0] == table and c == old else c for k, c in self.constraints.items()}

        def renamed(columns: Any) -> tuple[str, ...]:
            return tuple(new if c == old else c for c in columns)

        pk = self.primary_keys.get(table)
        if pk:
            self.primary_keys[table] = (pk[0], renamed(pk[1]))
        for index, on in self.indexes.items():  # an index built on the old name now covers the new one
            if on == table and index in self.index_columns:
                self.index_columns[index] = renamed(self.index_columns[index])
        if table in self.unique_constraints:
            self.unique_constraints[table] = {n: renamed(cs) for n, cs in self.unique_constraints[table].items()}
        for fk in self.foreign_keys.get(table, ()):
            if "constrained_columns" in fk:
                fk["constrained_columns"] = list(renamed(fk["constrained_columns"]))

    def _alter(self, table: str, cmd: dict[str, Any]) -> None:
        sub = cmd.get("subtype")
        cols = self.columns.setdefault(table, {})
        if sub == "AT_AddColumn":
            self._column(table, cmd.get("def", {}).get("ColumnDef", {}), cols)
        elif sub == "AT_AlterColumnType":
            tn = cmd.get("def", {}).get("ColumnDef", {}).get("typeName")
            if tn:
                cols[cmd.get("name", "")] = type_spec(tn)
        elif sub == "AT_DropColumn":
            cols.pop(cmd.get("name", ""), None)
        elif sub == "AT_AddConstraint":
            self._constraint(table, cmd.get("def", {}).get("Constraint", {}))
        elif sub == "AT_DropConstraint":
            self._drop_constraint(table, str(cmd.get("name", "")))
        elif sub == "AT_ValidateConstraint":
            column = self.constraints.get((table, cmd.get("name", "")))
            if column:
                self.not_null_checks.add((table, column))
        elif sub == "AT_SetNotNull":
            self.not_null.add((table, cmd.get("name", "")))
        elif sub == "AT_DropNotNull":
            self.not_null.discard((table, cmd.get("name", "")))


def _move(facts: dict[str, Any], old: str, new: str) -> None:
    if old in facts:
        facts[new] = facts.pop(old)


_META = r"^\\.*$"  # psql meta-commands pg_dump writes (\restrict, \connect)


def schema_from_ddl(text: str) -> SchemaModel:
    """Read `pg_dump --schema-only` output (or any DDL). Statements the parser rejects are skipped."""
    import re

    from expandcontract.sql.parse import parse

    text = re.sub(_META, "", text, flags=re.M)
    model = SchemaModel()
    parsed = parse(text)
    if parsed.error is not None:
        # parse statement by statement so one odd statement does not hide the rest
        for chunk in text.split(";\n"):
            one = parse(chunk)
            for st in one.statements:
                model.apply(st.kind, st.node)
        return model
    for st in parsed.statements:
        if not st.in_do:
            model.apply(st.kind, st.node)
    return model
