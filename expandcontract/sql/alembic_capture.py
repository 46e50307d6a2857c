"""Render Alembic revisions to SQL offline (no database), op by op, keeping each op's source line.

Rendering goes through Alembic itself, as `alembic upgrade --sql` does: a real `EnvironmentContext`
(so `from alembic import context; context.get_bind()`, `context.config`, `context.is_offline_mode()`
work) configures a `MigrationContext` in `as_sql` mode for the postgresql dialect, with transactional
DDL, whose output buffer records what each op writes; `autocommit_block` shows up as `COMMIT;` ...
`BEGIN;`. The project's env.py is not run: it would import the application and name its database.

`Operations.invoke` is wrapped on the instance so every op is seen with its arguments (`existing_type`
and `existing_nullable` of alter_column, `table_name` of drop_index), and the caller's frame in the
revision file gives the op's line and column. Ops inside `batch_alter_table` are captured one by one
the same way and rendered as soon as they are called (on PostgreSQL a batch is not a table copy), so each
keeps its own line and ignore comment. An op that fails offline is reported and the rest still renders;
so is a call that needs the database (sql/offline.py).
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from expandcontract.sql.nodes import TypeSpec, parse_type
from expandcontract.sql.parse import Parsed, parse
from expandcontract.sql.schema import SchemaModel


@dataclass
class CapturedOp:
    name: str  # "add_column", "execute", "backfill", "autocommit_block", ...
    line: int
    column: int
    sql: str = ""
    table: str | None = None
    existing_types: dict[tuple[str, str], TypeSpec] = field(default_factory=dict)
    existing_not_null: set[tuple[str, str]] = field(default_factory=set)  # existing_nullable=False
    backfilled: tuple[str, ...] = ()  # op.backfill: the columns it sets
    parsed: Parsed | None = None  # op.sql parsed (once: the renderer follows the schema with it)


@dataclass
class Capture:
    ops: list[CapturedOp] = field(default_factory=list)
    problems: list[tuple[int, int, str]] = field(default_factory=list)  # (line, column, message)
    aborted: bool = False  # the function raised: what follows the failure point was not rendered
    failed_ops: int = 0  # ops (or statements) that could not be rendered

    @property
    def complete(self) -> bool:
        return not self.aborted and not self.failed_ops


_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])|([a-z0-9])([A-Z])")


def op_name(cls_name: str) -> str:
    """`ExecuteSQLOp` -> `execute`, `CreateIndexOp` -> `create_index`: the name users call."""
    name = _ACRONYM.sub(lambda m: f"{m[1] or m[3]}_{m[2] or m[4]}", cls_name.removesuffix("Op")).lower()
    return {"execute_sql": "execute", "bulk_insert": "bulk_insert"}.get(name, name)


class _Recorder:
    """The output buffer: each write goes to the op being invoked, or (SQL executed directly through
    the bind, COMMIT/BEGIN of an autocommit block) to a pseudo-op at the revision line that caused it."""

    def __init__(self) -> None:
        self.filename = ""
        self.current: CapturedOp | None = None
        self.ops: list[CapturedOp] = []
        self.schema = SchemaModel()  # what inspection sees: the schema so far, this revision's ops included

    def write(self, text: str) -> int:
        if self.current is not None:
            self.current.sql += text
        elif text.strip():
            line, col = caller_position(self.filename)
            name = "autocommit_block" if text.strip().rstrip(";").upper() in ("COMMIT", "BEGIN") else "sql"
            op = CapturedOp(name, line, col, text)
            self.ops.append(op)
            self.follow(op)
        return len(text)

    def follow(self, op: CapturedOp) -> None:
        """Apply what the op did to the schema inspection answers from (a revision that inspects after
        its own add_column sees the column)."""
        if op.sql.strip():
            op.parsed = parse(op.sql)
            for st in op.parsed.statements:
                if not st.in_do:
                    self.schema.apply(st.kind, st.node)

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
            self.values = kwargs.get("values") or (args[0] if args else None)

        @classmethod
        def backfill(cls, operations: Operations, table: str, *args: Any, **kwargs: Any) -> Any:
            return operations.invoke(cls(table, *args, **kwargs))

    @Operations.implementation_for(BackfillOp)
    def _noop(operations: Operations, operation: BackfillOp) -> None:
        return None


class OfflineRenderer:
    """One offline Alembic environment for a whole project; `render` runs one revision function in it.
    Reused across revisions: building the environment once is what keeps 300 revisions fast."""

    def __init__(self, alembic_cfg: Any = None, script: Any = None) -> None:
        self.alembic_cfg = alembic_cfg
        self.script = script
        self._stack = contextlib.ExitStack()
        self.recorder = _Recorder()
        self.schema = SchemaModel()
        self._capture: Capture | None = None

    def __enter__(self) -> OfflineRenderer:
        from alembic.config import Config as AlembicConfig
        from alembic.runtime.environment import EnvironmentContext

        from expandcontract.sql.offline import OfflineBind, offline_hooks

        _ensure_backfill_op()
        env = EnvironmentContext(self.alembic_cfg or AlembicConfig(), self.script, as_sql=True)
        self._stack.enter_context(env)
        env.configure(
            dialect_name="postgresql",
            output_buffer=self.recorder,  # type: ignore[arg-type]
            literal_binds=True,
            transactional_ddl=True,
        )
        self.context = env.get_context()
        self.bind = OfflineBind(self.context, self.schema, self._note)
        self.context.connection = self.context.impl.connection = self.bind  # type: ignore[assignment]
        self._patch_exec()
        self._stack.enter_context(offline_hooks())
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()

    def _patch_exec(self) -> None:
        """Statements on untyped columns (`sa.table("t", sa.column("c"))`) fail to render literal values;
        type those values from Python and render again (what the database would receive)."""
        from sqlalchemy.exc import CompileError

        from expandcontract.sql.offline import retyped

        impl = self.context.impl
        original = impl._exec

        def _exec(construct: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return original(construct, *args, **kwargs)
            except CompileError as exc:
                if "literal value renderer" not in str(exc) or isinstance(construct, str):
                    raise
                return original(retyped(construct), *args, **kwargs)

        impl._exec = _exec  # type: ignore[method-assign]

    def _note(self, message: str) -> None:
        if self._capture is None:
            return
        line, col = caller_position(self.recorder.filename)
        self._capture.problems.append((line, col, message))
        if "cannot be rendered" in message:
            self._capture.failed_ops += 1

    def render(
        self, module: ModuleType, path: Path | str, fn: str = "upgrade", schema: SchemaModel | None = None
    ) -> Capture:
        """Run `module.<fn>()` offline, op by op; inspection answers from `schema` (the schema so far)."""
        from alembic.operations import Operations

        filename = getattr(module, "__file__", None) or str(path)
        capture = Capture()
        self._capture = capture
        self.recorder.filename = filename
        self.recorder.ops = []
        self.recorder.current = None
        self.recorder.schema = schema.copy() if schema is not None else SchemaModel()
        self.bind.schema = self.recorder.schema
        operations = Operations(self.context)
        capturing = _OpCapture(self, operations, filename, capture)
        operations.invoke = capturing.invoke  # type: ignore[method-assign]
        operations.batch_alter_table = capturing.batch_alter_table  # type: ignore[method-assign]
        operations._install_proxy()
        try:
            getattr(module, fn)()
        except NotImplementedError:
            if fn == "upgrade":
                capture.aborted = True
        except BaseException as exc:  # revision code may even sys.exit(): report it, lint what rendered
            if isinstance(exc, KeyboardInterrupt):
                raise
            line, col = _failure_position(exc, filename)
            capture.aborted = True
            capture.problems.append(
                (
                    line,
                    col,
                    f"rendering the revision offline failed here ({type(exc).__name__}: {_first_line(exc)}); "
                    "the rest of it was not analysed",
                )
            )
        finally:
            operations._remove_proxy()
            self.recorder.current = None
            self._capture = None
        capture.ops = self.recorder.ops
        return capture


class _OpCapture:
    """The wrapped `invoke` and `batch_alter_table` of one render."""

    def __init__(self, renderer: OfflineRenderer, operations: Any, filename: str, capture: Capture) -> None:
        self.renderer = renderer
        self.recorder = renderer.recorder
        self.operations = operations
        self.original = operations.invoke
        self.original_batch = operations.batch_alter_table
        self.filename = filename
        self.capture = capture
        self.depth = 0

    def _record(self, operation: Any, table: str | None = None) -> CapturedOp:
        line, col = caller_position(self.filename)
        name = op_name(type(operation).__name__)
        table = table or getattr(operation, "table_name", None) or getattr(operation, "table", None)
        schema = getattr(operation, "schema", None)
        if isinstance(table, str) and schema and schema != "public":
            table = f"{schema}.{table}"
        op = CapturedOp(name, line, col, table=table if isinstance(table, str) else None)
        self.recorder.ops.append(op)
        _existing(operation, op)
        if "backfill" in name:
            op.name = "backfill"
            values = getattr(operation, "values", None)
            op.backfilled = tuple(str(k) for k in values) if isinstance(values, dict) else ()
        return op

    def _fail(self, op: CapturedOp, exc: BaseException) -> None:
        op.sql = ""
        self.capture.failed_ops += 1
        self.capture.problems.append(
            (
                op.line,
                op.column,
                f"this {op.name} op cannot be rendered offline ({type(exc).__name__}: {_first_line(exc)})",
            )
        )

    def invoke(self, operation: Any) -> Any:
        if self.depth:
            return self.original(operation)
        op = self._record(operation)
        if op.name == "backfill":
            return None  # the batched backfill runs at run time; nothing to render
        self.recorder.current = op
        self.depth += 1
        try:
            return self.original(operation)
        except Exception as exc:  # this op cannot be rendered offline: report it, render the rest
            self._fail(op, exc)
            return None
        finally:
            self.depth -= 1
            self.recorder.current = None
            self.recorder.follow(op)

    @contextlib.contextmanager
    def batch_alter_table(self, table_name: str, schema: str | None = None, *args: Any, **kw: Any) -> Iterator[Any]:
        line, col = caller_position(self.filename)
        full = f"{schema}.{table_name}" if schema and schema != "public" else table_name
        try:
            with self.original_batch(table_name, schema, *args, **kw) as batch_op:
                impl = batch_op.impl
                recreating = impl._should_recreate()
                original = batch_op.invoke

                def invoke(operation: Any) -> Any:
                    if self.depth:
                        return original(operation)
                    op = self._record(operation, full)
                    queued = len(impl.batch)
                    self.depth += 1
                    try:
                        result = original(operation)
                        if not recreating:  # render this op now, as itself (PostgreSQL alters in place)
                            pending, impl.batch[queued:] = impl.batch[queued:], []
                            self.recorder.current = op
                            for opname, a, k in pending:
                                getattr(impl.operations.impl, opname)(*a, **k)
                        return result
                    except Exception as exc:
                        self._fail(op, exc)
                        return None
                    finally:
                        self.depth -= 1
                        self.recorder.current = None
                        self.recorder.follow(op)

                batch_op.invoke = invoke
                yield batch_op
        except Exception as exc:
            if not kw.get("recreate") == "always" and not (args and args[0] == "always"):
                raise
            self.capture.failed_ops += 1
            self.capture.problems.append(
                (
                    line,
                    col,
                    f"batch_alter_table({table_name!r}, recreate='always') copies the whole table into a new one "
                    f"and cannot be rendered offline ({type(exc).__name__}); its ops were not analysed",
                )
            )


def _existing(operation: Any, op: CapturedOp) -> None:
    """`existing_type` / `existing_nullable` of an alter_column: what the column was before."""
    from alembic.operations import ops as alembic_ops
    from sqlalchemy.dialects import postgresql

    if not isinstance(operation, alembic_ops.AlterColumnOp) or op.table is None:
        return
    key = (op.table, str(operation.column_name))
    if operation.existing_nullable is False:
        op.existing_not_null.add(key)
    if operation.existing_type is not None:
        try:
            rendered = operation.existing_type.compile(dialect=postgresql.dialect())  # type: ignore[no-untyped-call]
            op.existing_types[key] = parse_type(rendered)
        except Exception:  # an exotic type that does not compile offline: prior type stays unknown
            pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _failure_position(exc: BaseException, filename: str) -> tuple[int, int]:
    tb = exc.__traceback__
    found = (1, 1)
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            found = (tb.tb_lineno, 1)
        tb = tb.tb_next
    return found


def capture_revision(module: ModuleType, path: Path | str, fn: str = "upgrade") -> Capture:
    """Render one revision function with a throwaway environment (tools and tests; projects reuse one)."""
    with OfflineRenderer() as renderer:
        return renderer.render(module, path, fn)


def function_lines(path: Path, name: str) -> tuple[int, int] | None:
    """First and last line of the module-level function `name` (None if absent)."""
    import ast

    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node.lineno, node.end_lineno or node.lineno
    return None
