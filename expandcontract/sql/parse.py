"""Split SQL text into statements with their source line and column, using PostgreSQL's parser.

pglast's JSON parse tree (plain dicts) is used instead of its node objects: it is ~5x faster to build and
the linter only reads it. Locations from the parser are byte offsets into the UTF-8 text; they are mapped
back to 1-based lines and character columns here. `DO` blocks execute during a migration, so the
statements inside them are parsed too (PL/pgSQL parser) and reported at their own lines; the bodies of
`CREATE FUNCTION` are never entered (they do not run when the migration runs).
"""

from __future__ import annotations

from expandcontract.fastjson import loads_first
from expandcontract.record import Record
from expandcontract.sql._pglast import ParseError, parse_plpgsql_json, parse_sql_json

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

    Node = dict[str, Any]


class Statement(Record):
    __slots__ = ("cache", "column", "dynamic", "in_do", "kind", "line", "node", "text")
    _hidden = ("cache",)

    def __init__(
        self,
        kind: str,  # the parse node's type, e.g. "AlterTableStmt"
        node: Node,  # the node's fields
        text: str,  # the statement's source text (for a statement inside DO: the inner statement)
        line: int,  # 1-based
        column: int,  # 1-based
        in_do: bool = False,
        dynamic: bool = False,  # EXECUTE of a non-literal string inside DO: cannot be analysed
    ) -> None:
        self.kind = kind
        self.node = node
        self.text = text
        self.line = line
        self.column = column
        self.in_do = in_do
        self.dynamic = dynamic
        self.cache: dict[str, Any] = {}  # derived views (alter_cmds ...), computed once per statement


class SyntaxProblem(Record):
    __slots__ = ("column", "line", "message")

    def __init__(self, message: str, line: int, column: int) -> None:
        self.message = message
        self.line = line
        self.column = column


class Parsed(Record):
    __slots__ = ("error", "statements")

    def __init__(self, statements: list[Statement] | None = None, error: SyntaxProblem | None = None) -> None:
        self.statements = statements if statements is not None else []
        self.error = error


class _Positions:
    """Byte offsets -> (line, column), for offsets asked in increasing order (statements come in source
    order): lines are counted from the previous offset, so a file is scanned once, in C."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0
        self.line = 1
        self.ascii = data.isascii()

    def at(self, offset: int) -> tuple[int, int]:
        data = self.data
        if offset < self.offset:  # out of order: count from the start
            self.offset, self.line = 0, 1
        self.line += data.count(b"\n", self.offset, offset)
        self.offset = offset
        start = data.rfind(b"\n", 0, offset) + 1
        col = (offset - start if self.ascii else len(data[start:offset].decode("utf-8", "replace"))) + 1
        return self.line, col


def parse(sql: str, line_offset: int = 0) -> Parsed:
    """Parse `sql`; lines are shifted by `line_offset` (for SQL that sits inside another file)."""
    data = sql.encode("utf-8")
    pos = _Positions(data)
    try:
        tree = loads_first(parse_sql_json(sql))
    except ParseError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        index = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        # pglast reports the error position in characters (statement locations are in bytes)
        before = sql[: max(index, 0)]
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        return Parsed(error=SyntaxProblem(message, line + line_offset, col))
    out: list[Statement] = []
    for raw in tree.get("stmts", ()):
        start = raw.get("stmt_location", 0)
        length = raw.get("stmt_len", 0) or len(data) - start
        chunk = data[start : start + length]
        lead = _leading(chunk)
        text = chunk[lead:].decode("utf-8", "replace")
        line, col = pos.at(start + lead)
        ((kind, node),) = raw["stmt"].items()
        stmt = Statement(kind, node, text, line + line_offset, col)
        out.append(stmt)
        if kind == "DoStmt":
            out.extend(_do_block(stmt))
    return Parsed(out)


def _leading(chunk: bytes) -> int:
    """How many bytes of whitespace, `--` comments and `/* */` comments come before the statement's
    first token (an unclosed `/*` is not skipped)."""
    at, n = 0, len(chunk)
    while True:
        at = _skip_space(chunk, at)
        if chunk.startswith(b"--", at):
            end = chunk.find(b"\n", at)
            at = n if end < 0 else end + 1
        elif chunk.startswith(b"/*", at):
            end = chunk.find(b"*/", at + 2)
            if end < 0:
                return at
            at = end + 2
        else:
            return at


def _skip_space(chunk: bytes, at: int) -> int:
    """The first offset from `at` that is not white space (bytes.lstrip() strips b" \\t\\n\\r\\x0b\\x0c",
    what \\s matches in bytes), looking at a window at a time: never copying the rest of the chunk."""
    while True:
        window = chunk[at : at + 256]
        stripped = window.lstrip()
        at += len(window) - len(stripped)
        if stripped or not window:
            return at


def _do_block(stmt: Statement) -> list[Statement]:
    """The statements a `DO` block executes, at their own source lines."""
    language = "plpgsql"
    body: str | None = None
    for arg in stmt.node.get("args", ()):
        elem = arg.get("DefElem", {})
        value = elem.get("arg", {}).get("String", {}).get("sval")
        if elem.get("defname") == "language" and value:
            language = value.lower()
        elif elem.get("defname") == "as":
            body = value
    if body is None or language != "plpgsql":
        return []
    try:
        tree = loads_first(parse_plpgsql_json(stmt.text))
    except ParseError:
        return []
    # the DO body starts on the statement's line; PL/pgSQL line numbers count from the body's start
    body_line = stmt.line + stmt.text[: stmt.text.find(body)].count("\n") if body in stmt.text else stmt.line
    found: list[Statement] = []
    _walk_plpgsql(tree, body_line, found)
    return found


def _walk_plpgsql(node: Any, body_line: int, found: list[Statement]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk_plpgsql(item, body_line, found)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "PLpgSQL_stmt_execsql":
            query = value.get("sqlstmt", {}).get("PLpgSQL_expr", {}).get("query", "")
            _inner(query, body_line + value.get("lineno", 1) - 1, found)
        elif key == "PLpgSQL_stmt_dynexecute":
            query = value.get("query", {}).get("PLpgSQL_expr", {}).get("query", "")
            line = body_line + value.get("lineno", 1) - 1
            literal = _string_literal(query)
            if literal is not None:
                _inner(literal, line, found)
            else:
                found.append(Statement("DynamicExecute", {}, query, line, 1, in_do=True, dynamic=True))
        else:
            _walk_plpgsql(value, body_line, found)


def _string_literal(expr: str) -> str | None:
    """The value of `expr` when it is one plain SQL string literal (`'...'`, quotes doubled inside)."""
    text = expr.strip()  # str.strip() and \s agree on what white space is
    inner = text[1:-1]
    if len(text) < 2 or text[0] != "'" or text[-1] != "'" or "'" in inner.replace("''", ""):
        return None
    return inner.replace("''", "'")


def _inner(query: str, line: int, found: list[Statement]) -> None:
    try:
        tree = loads_first(parse_sql_json(query))
    except ParseError:
        return
    for raw in tree.get("stmts", ()):
        ((kind, node),) = raw["stmt"].items()
        found.append(Statement(kind, node, query.strip(), line, 1, in_do=True))
