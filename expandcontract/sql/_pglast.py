"""PostgreSQL's parser (pglast.parser) without paying for pglast's node classes up front.

Importing pglast runs pglast.enums (hundreds of Enum classes) and pglast.ast (the node classes): about
two thirds of pglast's import time, and the .sql lint path never touches them (it reads the parser's
JSON). When pglast is not imported yet, both are installed as `importlib.util.LazyLoader` modules: the
real modules, executed the first time anything reads an attribute of them (recipes' SQL rendering,
phases/locks.py), so every pglast API keeps working in the same process. The package itself (its
__init__ imports typing) is made lazy the same way once pglast.parser is loaded. Any surprise while
doing so falls back to the plain import.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import types


def _lazy(name: str, path: str, package_dir: str | None = None) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=[package_dir] if package_dir else None
    )
    if spec is None or spec.loader is None:
        raise ImportError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _import_lazily() -> None:
    spec = importlib.machinery.PathFinder.find_spec("pglast")
    if spec is None or spec.loader is None or spec.origin is None:
        return
    where = os.path.dirname(spec.origin)
    package = importlib.util.module_from_spec(spec)
    enums = _lazy("pglast.enums", os.path.join(where, "enums", "__init__.py"), os.path.join(where, "enums"))
    ast = _lazy("pglast.ast", os.path.join(where, "ast.py"))
    # `from . import enums, ast` (pglast/__init__, the parser) binds these without reading them; they
    # join sys.modules only afterwards: the import system's own checks would execute them
    package.enums = enums  # type: ignore[attr-defined]
    package.ast = ast  # type: ignore[attr-defined]
    sys.modules["pglast"] = package
    try:
        # the parser needs only pglast.Error, .enums and .ast from the package
        package.Error = importlib.import_module("pglast.error").Error  # type: ignore[attr-defined]
        importlib.import_module("pglast.parser")
        # pglast/__init__ (typing, namedtuple, the parser's re-exports) runs on the first use of any
        # other pglast name, in this same module object
        importlib.util.LazyLoader(spec.loader).exec_module(package)
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
