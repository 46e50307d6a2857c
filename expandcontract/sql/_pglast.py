"""PostgreSQL's parser (pglast.parser) without paying for pglast's node classes up front.

Importing pglast runs pglast.enums (hundreds of Enum classes) and pglast.ast (the node classes): about
two thirds of pglast's import time, and the .sql lint path never touches them (it reads the parser's
JSON). When pglast is not imported yet, both are installed as deferred modules (as with
`importlib.util.LazyLoader`, without importing importlib.util): the real modules, executed the first
time anything reads a name they do not have yet (recipes' SQL rendering,
phases/locks.py), so every pglast API keeps working in the same process. The package itself (its
__init__ imports typing) is made lazy the same way once pglast.parser is loaded. Any surprise while
doing so falls back to the plain import.
"""

from __future__ import annotations

import _thread
import os
import sys

# the import system's own modules, loaded before any code runs (importlib.util would cost contextlib,
# functools and collections: more than pglast's parser itself)
_bootstrap = sys.modules["_frozen_importlib"]
_external = sys.modules["_frozen_importlib_external"]
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from types import ModuleType as _ModuleType
else:
    _ModuleType = type(sys)


_LOCK = _thread.RLock()  # one thread runs a deferred module's code; the others wait for it
_RUNNING: set[int] = set()  # deferred modules whose code is running (a read from inside it: not there yet)


def _run(module: _Deferred, name: str) -> None:
    """Run a deferred module's code (once, in one thread)."""
    with _LOCK:
        if type(module) is not _Deferred:
            return  # another thread ran it meanwhile
        if id(module) in _RUNNING:  # its own code (or an import it makes) asks before defining it
            raise AttributeError(name)
        spec = module.__spec__
        assert spec is not None and spec.loader is not None  # _lazy and _import_lazily set both
        _RUNNING.add(id(module))
        try:
            spec.loader.exec_module(module)
        finally:
            _RUNNING.discard(id(module))
        module.__class__ = _ModuleType  # type: ignore[assignment]


class _Deferred(_ModuleType):
    """A module whose code runs the first time a name it does not have yet is read from it, or its
    names are listed (dir(), completion, pydoc). Reading its __dict__ directly does not run it."""

    def __getattr__(self, name: str) -> object:
        _run(self, name)
        return getattr(self, name)

    def __dir__(self) -> list[str]:
        _run(self, "__dir__")
        return dir(self)


def _lazy(name: str, path: str, package_dir: str | None = None) -> _Deferred:
    spec = _external.spec_from_file_location(
        name, path, submodule_search_locations=[package_dir] if package_dir else None
    )
    if spec is None or spec.loader is None:
        raise ImportError(name)
    module = _bootstrap.module_from_spec(spec)
    module.__class__ = _Deferred
    return module  # type: ignore[no-any-return]


def _import_lazily() -> None:
    spec = _external.PathFinder.find_spec("pglast")
    if spec is None or spec.loader is None or spec.origin is None:
        return
    where = os.path.dirname(spec.origin)
    package = _bootstrap.module_from_spec(spec)
    enums = _lazy("pglast.enums", os.path.join(where, "enums", "__init__.py"), os.path.join(where, "enums"))
    ast = _lazy("pglast.ast", os.path.join(where, "ast.py"))
    # `from . import enums, ast` (pglast/__init__, the parser) binds these without reading them; they
    # join sys.modules only afterwards: the import system's own checks would execute them
    package.enums = enums
    package.ast = ast
    sys.modules["pglast"] = package
    try:
        # the parser needs only pglast.Error, .enums and .ast from the package
        __import__("pglast.error")
        package.Error = sys.modules["pglast.error"].Error
        __import__("pglast.parser")
        # pglast/__init__ (typing, namedtuple, the parser's re-exports) runs on the first use of any
        # other pglast name, in this same module object
        package.__class__ = _Deferred
    except BaseException:
        for name in [m for m in sys.modules if m == "pglast" or m.startswith("pglast.")]:
            del sys.modules[name]
        raise
    sys.modules["pglast.enums"] = enums
    sys.modules["pglast.ast"] = ast


if "pglast" not in sys.modules:
    try:  # noqa: SIM105  (contextlib.suppress: one more module to import)
        _import_lazily()
    except Exception:  # a pglast laid out otherwise: the plain import below
        pass

from pglast.parser import ParseError, parse_plpgsql_json, parse_sql_json  # noqa: E402

__all__ = ["ParseError", "parse_plpgsql_json", "parse_sql_json"]
