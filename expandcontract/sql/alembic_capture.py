"""Render one Alembic revision to SQL offline (no database), op by op, keeping each op's source line.

The recipe (facts.md): a MigrationContext in `as_sql` mode with transactional DDL writes each op's SQL to
an output buffer; `autocommit_block` shows up as `COMMIT;` ... `BEGIN;`. `Operations.invoke` is wrapped
on the instance so every op is seen with its arguments (`existing_type` of alter_column, `table_name` of
drop_index), and the caller's frame in the revision file gives the op's line and column.

Offline rendering cannot see what depends on data read at run time (`op.get_bind().execute(...)`
returns None offline) or SQL assembled at run time (f-strings, `%`, `.format`, variables): those become
"not analysable" problems, and the ops around them are still linted.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from expandcontract.sql.nodes import TypeSpec, parse_type


@dataclass
class CapturedOp:
    name: str  # "add_column", "execute", "backfill", "autocommit_block", ...
    line: int
    column: int
    sql: str = ""
    table: str | None = None
    existing_types: dict[tuple[str, str], TypeSpec] = field(default_factory=dict)


@dataclass
class Capture:
    ops: list[CapturedOp] = field(default_factory=list)
    problems: list[tuple[int, int, str]] = field(default_factory=list)  # (line, column, message)


def _snake(name: str) -> str:
    name = name.removesuffix("Op")
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class _Recorder:
    """The output buffer: each write goes to the op being invoked, or (COMMIT/BEGIN of an autocommit
    block) to a pseudo-op at the revision line that caused it."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.current: CapturedOp | None = None
        self.ops: list[CapturedOp] = []

    def write(self, text: str) -> int:
        if self.current is not None:
            self.current.sql += text
        elif text.strip():
            line, col = caller_position(self.filename)
            name = "autocommit_block" if text.strip().rstrip(";").upper() in ("COMMIT", "BEGIN") else "sql"
            self.ops.append(CapturedOp(name, line, col, text))
        return len(text)

    def flush(self) -> None:
        pass


def caller_position(filename: str) -> tuple[int, int]:
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == filename:
            positions = list(frame.f_code.co_positions())
            idx = frame.f_lasti // 2
            col = positions[idx][2] if idx < len(positions) and positions[idx][2] is not None else 0
            return frame.f_lineno or 1, (col or 0) + 1
        frame = frame.f_back
    return 1, 1


def _ensure_backfill_op() -> None:
    """`op.backfill(...)` is registered by expandcontract.backfill; when it is not, a no-op stand-in
    keeps revisions that use it renderable (it is the safe batched operation, nothing to lint)."""
    from alembic.operations import MigrateOperation, Operations

    if hasattr(Operations, "backfill"):
        return

    @Operations.register_operation("backfill")
    class BackfillOp(MigrateOperation):
        def __init__(self, table: str, *args: Any, **kwargs: Any) -> None:
            self.table = table

        @classmethod
        def backfill(cls, operations: Operations, table: str, *args: Any, **kwargs: Any) -> Any:
            return operations.invoke(cls(table, *args, **kwargs))

    @Operations.implementation_for(BackfillOp)
    def _noop(operations: Operations, operation: BackfillOp) -> None:
        return None


def capture_revision(module: ModuleType, path: Path | str, fn: str = "upgrade") -> Capture:
    """Render `module.upgrade()` offline, op by op."""

    from alembic.operations import Operations
    from alembic.operations import ops as alembic_ops
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.dialects import postgresql

    _ensure_backfill_op()
    filename = getattr(module, "__file__", None) or str(path)
    recorder = _Recorder(filename)
    capture = Capture()
    ctx = MigrationContext.configure(
        dialect_name="postgresql",
        opts={
            "as_sql": True,
            "output_buffer": recorder,
            "literal_binds": True,
            "transactional_ddl": True,
        },
    )
    operations = Operations(ctx)
    original = operations.invoke
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    depth = [0]

    def invoke(operation: Any) -> Any:
        if depth[0]:
            return original(operation)
        line, col = caller_position(filename)
        name = _snake(type(operation).__name__)
        op = CapturedOp(name, line, col, table=getattr(operation, "table_name", None))
        recorder.ops.append(op)
        if "backfill" in name:
            op.name = "backfill"
            return None  # the batched backfill runs at run time; nothing to render
        if isinstance(operation, alembic_ops.AlterColumnOp) and operation.existing_type is not None:
            try:
                rendered = operation.existing_type.compile(dialect=dialect)
                op.existing_types[(str(operation.table_name), str(operation.column_name))] = parse_type(rendered)
            except Exception:  # an exotic type that does not compile offline: prior type stays unknown
                pass
        recorder.current = op
        depth[0] += 1
        try:
            return original(operation)
        except Exception as exc:  # this op cannot be rendered offline: report it, render the rest
            op.sql = ""
            capture.problems.append(
                (line, col, f"this {name} op cannot be rendered offline ({type(exc).__name__}: {exc})")
            )
            return None
        finally:
            depth[0] -= 1
            recorder.current = None

    operations.invoke = invoke  # type: ignore[method-assign]
    operations._install_proxy()
    try:
        getattr(module, fn)()
    except Exception as exc:
        line, col = _failure_position(exc, filename)
        capture.problems.append(
            (
                line,
                col,
                f"rendering the revision offline failed here ({type(exc).__name__}: {exc}); the "
                "rest of it was not analysed",
            )
        )
    finally:
        operations._remove_proxy()
    capture.ops = recorder.ops
    capture.problems += dynamic_sql(Path(filename))
    return capture


def _failure_position(exc: BaseException, filename: str) -> tuple[int, int]:
    tb = exc.__traceback__
    found = (1, 1)
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            found = (tb.tb_lineno, 1)
        tb = tb.tb_next
    return found


_READS = {
    "fetchall",
    "fetchone",
    "fetchmany",
    "scalar",
    "scalars",
    "scalar_one",
    "first",
    "one",
    "all",
    "mappings",
    "one_or_none",
    "scalar_one_or_none",
}


def dynamic_sql(path: Path) -> list[tuple[int, int, str]]:
    """SQL built at run time and data read at run time, found in the revision's source."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return []
    problems: list[tuple[int, int, str]] = []
    constants = {
        target.id
        for stmt in tree.body
        if isinstance(stmt, ast.Assign) and _literal_text(stmt.value)
        for target in stmt.targets
        if isinstance(target, ast.Name)
    }
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef) or fn.name != "upgrade":
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                attr = node.func.attr
                if attr == "execute" and node.args and not _literal_sql(node.args[0], constants):
                    problems.append(
                        (
                            node.lineno,
                            node.col_offset + 1,
                            "SQL built at run time (f-string, concatenation, format or a variable) cannot be "
                            "analysed offline",
                        )
                    )
                if attr in _READS and isinstance(node.func.value, ast.Call) and _is_execute(node.func.value):
                    problems.append(
                        (
                            node.lineno,
                            node.col_offset + 1,
                            "this op reads data at run time (op.get_bind().execute(...) returns nothing "
                            "offline); what follows from it cannot be analysed",
                        )
                    )
            if isinstance(node, ast.For) and isinstance(node.iter, ast.Call) and _is_execute(node.iter):
                problems.append(
                    (
                        node.lineno,
                        node.col_offset + 1,
                        "this loop iterates over rows read at run time; its SQL cannot be analysed offline",
                    )
                )
    return problems


def _is_execute(node: ast.Call) -> bool:
    return isinstance(node.func, ast.Attribute) and node.func.attr == "execute"


def _literal_text(node: ast.expr) -> bool:
    """A string literal, or literals joined with + (implicit concatenation is already one Constant)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal_text(node.left) and _literal_text(node.right)
    return False


def _literal_sql(arg: ast.expr, constants: set[str]) -> bool:
    """SQL whose text is fixed in the source: a literal, a module-level literal constant, text(literal),
    or a SQLAlchemy construct (sa.update(...), table.insert(...)), which renders fully offline."""
    if _literal_text(arg) or (isinstance(arg, ast.Name) and arg.id in constants):
        return True
    if isinstance(arg, ast.Call):
        func = arg.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name == "text":
            return bool(arg.args) and _literal_sql(arg.args[0], constants) and not isinstance(arg.args[0], ast.Call)
        return name != "format"
    return False


def function_lines(path: Path, name: str) -> tuple[int, int] | None:
    """First and last line of the module-level function `name` (None if absent)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node.lineno, node.end_lineno or node.lineno
    return None
