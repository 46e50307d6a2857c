"""Reading pglast JSON parse nodes: relation names, type names, constants, and default-expression
volatility. Names come out exactly as PostgreSQL resolves them (the parser already case-folded unquoted
identifiers), so `"Users"` and `users` stay different tables and `public.users` equals `users`.
"""

from __future__ import annotations

from expandcontract.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

    Node = dict[str, Any]


def table_name(rangevar: Node | None) -> str:
    """`schema.table` for a non-public schema, else `table`."""
    if not rangevar:
        return ""
    schema = rangevar.get("schemaname")
    name = str(rangevar.get("relname", ""))
    return f"{schema}.{name}" if schema and schema != "public" else name


def qualified(names: list[Node]) -> str:
    parts = [n.get("String", {}).get("sval", "") for n in names]
    if len(parts) > 1 and parts[0] == "public":
        parts = parts[1:]
    return ".".join(parts)


_DISPLAYED: dict[str, str] = {}  # the same few names are displayed many times per finding


def display(name: str) -> str:
    """A name as the user would type it: quoted only when it needs quotes."""
    found = _DISPLAYED.get(name)
    if found is not None:
        return found
    out = []
    for part in name.split("."):
        if part.isidentifier() and part == part.lower():
            out.append(part)
        else:
            out.append('"' + part.replace('"', '""') + '"')
    shown = ".".join(out)
    if len(_DISPLAYED) < 4096:  # bounded: a long-lived process (serve, tests) lints many names
        _DISPLAYED[name] = shown
    return shown


_ALIASES = {
    "int4": "integer",
    "int": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "float8": "double precision",
    "float4": "real",
    "bool": "boolean",
    "varchar": "varchar",
    "character varying": "varchar",
    "bpchar": "char",
    "character": "char",
    "decimal": "numeric",
    "timestamptz": "timestamptz",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "timetz": "timetz",
    "varbit": "varbit",
    "bit varying": "varbit",
}


class TypeSpec(Record):
    """A column type, compared and hashed by value (it is never changed once made)."""

    __slots__ = ("array", "mods", "name")

    def __init__(self, name: str, mods: tuple[int, ...] = (), array: bool = False) -> None:
        self.name = name  # canonical lower-case name, e.g. "varchar", "numeric", "bigint"
        self.mods = mods
        self.array = array

    def __hash__(self) -> int:
        return hash(self._values())

    def __str__(self) -> str:
        """As PostgreSQL prints it (format_type): `character varying(20)`, `timestamp(3) with time zone`,
        `numeric(12,2)`, `interval(3)`."""
        mods = f"({','.join(map(str, self.mods))})" if self.mods else ""
        base, _, suffix = _PG_NAMES.get(self.name, self.name).partition(" with")
        suffix = f" with{suffix}" if suffix else ""
        return f"{base}{mods}{suffix}{'[]' if self.array else ''}"


_PG_NAMES = {
    "varchar": "character varying",
    "char": "character",
    "varbit": "bit varying",
    "timestamptz": "timestamp with time zone",
    "timestamp": "timestamp without time zone",
    "timetz": "time with time zone",
    "time": "time without time zone",
}
# interval field masks (PostgreSQL's INTERVAL_MASK bits), from the largest field to the smallest
_INTERVAL_FIELDS = (("year", 4), ("month", 2), ("day", 8), ("hour", 1024), ("minute", 2048), ("second", 4096))
_INTERVAL_FULL = 32767


def _interval(mods: list[int]) -> tuple[str, tuple[int, ...]]:
    """pglast's interval typmods (field mask, precision) -> (`interval day to second`, (precision,))."""
    mask = mods[0] if mods else _INTERVAL_FULL
    precision = tuple(mods[1:2])
    if mask == _INTERVAL_FULL:
        return "interval", precision
    names = [name for name, bit in _INTERVAL_FIELDS if mask & bit]
    fields = names[0] if len(names) == 1 else f"{names[0]} to {names[-1]}"
    return f"interval {fields}", precision


def canonical_type(name: str) -> str:
    name = name.lower().strip()
    return _ALIASES.get(name, name)


def type_spec(type_name: Node) -> TypeSpec:
    names = [n.get("String", {}).get("sval", "") for n in type_name.get("names", ())]
    base = names[-1] if names else ""
    mods: list[int] = []
    for mod in type_name.get("typmods", ()) or ():
        value = mod.get("A_Const", {}).get("ival", {}).get("ival")
        if isinstance(value, int):
            mods.append(value)
        elif "A_Const" in mod and "ival" in mod["A_Const"]:
            mods.append(0)
    name = canonical_type(base)
    if name == "interval" and mods:
        name, precision = _interval(mods)
        return TypeSpec(name, precision, bool(type_name.get("arrayBounds")))
    return TypeSpec(name, tuple(mods), bool(type_name.get("arrayBounds")))


def parse_type(text: str) -> TypeSpec:
    """A type written as text (`VARCHAR(length=50)` from SQLAlchemy, `character varying(50)` from
    pg_dump) -> TypeSpec."""
    import re

    text = text.strip().lower()
    array = text.endswith("[]")
    text = text.removesuffix("[]")
    m = re.match(r"^([a-z_ ]+?)\s*(?:\(([^)]*)\))?(\s+with(?:out)? time zone)?$", text)
    if not m:
        return TypeSpec(canonical_type(text), (), array)
    base = m.group(1).strip() + (m.group(3) or "")
    mods = tuple(int(x) for x in re.findall(r"\d+", m.group(2) or ""))
    return TypeSpec(canonical_type(base), mods, array)


# Type changes PostgreSQL performs without rewriting the table (binary coercible, or a widened typmod).
_BINARY_COERCIBLE = {
    ("varchar", "text"),
    ("cidr", "inet"),
    ("char", "text"),
    ("xml", "text"),
    ("text", "citext"),
    ("citext", "text"),
    ("varchar", "citext"),
}
_WIDENING_TYPMOD = {"varchar", "char", "varbit", "bit", "timestamp", "timestamptz", "time", "timetz"}


def type_change_rewrites(old: TypeSpec, new: TypeSpec) -> bool:
    """True when ALTER COLUMN ... TYPE from `old` to `new` rewrites the table (and rebuilds indexes)."""
    if old.array != new.array:
        return True
    if old.name == new.name:
        if not new.mods:  # dropping the typmod (varchar(n) -> varchar, numeric(p,s) -> numeric) widens
            return old.name not in _WIDENING_TYPMOD | {"numeric"} and bool(old.mods)
        if not old.mods:
            return True  # adding a length limit must check every row
        if old.name == "numeric":
            old_s = old.mods[1] if len(old.mods) > 1 else 0
            new_s = new.mods[1] if len(new.mods) > 1 else 0
            return not (new.mods[0] >= old.mods[0] and new_s == old_s)
        if old.name in _WIDENING_TYPMOD:
            return new.mods[0] < old.mods[0]
        return old.mods != new.mods
    if (old.name, new.name) in _BINARY_COERCIBLE:
        return old.name == "char"  # char(n) -> text strips trailing blanks: a rewrite
    return not (old.name in ("text", "citext") and new.name == "varchar" and not new.mods)


def narrows(old: TypeSpec, new: TypeSpec) -> bool:
    """A type change that can lose data or reject values the old code writes."""
    if old.name == new.name and old.mods and new.mods:
        return any(n < o for n, o in zip(new.mods, old.mods, strict=False))
    if old.name in ("text", "varchar") and new.name == "varchar" and new.mods:
        return True
    return old.name != new.name and (old.name, new.name) not in _BINARY_COERCIBLE | {("text", "varchar")}


VOLATILE_FUNCTIONS = {
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "txid_current",
    "setseed",
    "random_normal",
    "gen_random_bytes",
}
STABLE_OR_IMMUTABLE_FUNCTIONS = {
    "now",
    "statement_timestamp",
    "transaction_timestamp",
    "current_setting",
    "to_timestamp",
    "lower",
    "upper",
    "length",
    "coalesce",
    "concat",
    "md5",
    "jsonb_build_object",
    "json_build_object",
    "jsonb_build_array",
    "array",
    "make_interval",
    "make_date",
    "to_jsonb",
    "timezone",
    "date_trunc",
}


def volatility(expr: Any) -> str:
    """'volatile', 'stable' or 'constant' for a DEFAULT expression. Unknown functions count as
    volatile: that is PostgreSQL's own default for a function declared without a volatility."""
    worst = "constant"
    for fn in _function_calls(expr):
        if fn in VOLATILE_FUNCTIONS or fn not in STABLE_OR_IMMUTABLE_FUNCTIONS:
            return "volatile"
        worst = "stable"
    if worst == "constant" and _has_key(expr, "SQLValueFunction"):
        worst = "stable"
    return worst


def is_null_constant(expr: Any) -> bool:
    return isinstance(expr, dict) and expr.get("A_Const", {}).get("isnull") is True


def _function_calls(node: Any) -> list[str]:
    found: list[str] = []
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            call = cur.get("FuncCall")
            if isinstance(call, dict):
                names = [n.get("String", {}).get("sval", "") for n in call.get("funcname", ())]
                found.append(names[-1].lower() if names else "")
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
    return found


def _has_key(node: Any, key: str) -> bool:
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            if key in cur:
                return True
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
    return False


def not_null_check_column(expr: Any) -> str | None:
    """`col IS NOT NULL` -> col (the CHECK that lets SET NOT NULL skip its scan on PG 12+)."""
    test = expr.get("NullTest") if isinstance(expr, dict) else None
    if not test or test.get("nulltesttype") != "IS_NOT_NULL":
        return None
    fields = test.get("arg", {}).get("ColumnRef", {}).get("fields", ())
    if len(fields) != 1:
        return None
    value = fields[0].get("String", {}).get("sval")
    return str(value) if value else None
