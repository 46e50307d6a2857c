"""`module.path:attr` or `path/to/file.py:attr`: the models (a MetaData or a declarative base) and the
traffic hook (a function) of one release, imported from that release's tree.

Imported only inside a release's own worker process: the old and the new release usually have the
same module names (`app.models`) with different contents, so they cannot share an interpreter.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

from expandcontract.errors import UsageError

_MODULE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


def check(spec: str, what: str) -> tuple[str, str]:
    """Split SPEC into (module or file, attribute), or raise UsageError saying the accepted forms."""
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr or not all(part.isidentifier() for part in attr.split(".")):
        raise UsageError(f"{what} {spec!r} is not module.path:attr or path/to/file.py:attr (e.g. app.models:Base)")
    if not target.endswith(".py") and not _MODULE.match(target):
        raise UsageError(f"{what} {spec!r}: {target!r} is neither a module path nor a .py file")
    return target, attr


def load(spec: str, root: Path, what: str) -> Any:
    """The object SPEC names, with `root` (the release's project root) first on sys.path."""
    target, attr = check(spec, what)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        if target.endswith(".py"):
            path = Path(target) if Path(target).is_absolute() else root / target
            if not path.is_file():
                raise UsageError(f"{what} {spec!r}: no file {path}")
            module_spec = importlib.util.spec_from_file_location(f"_ec_release_{path.stem}", path)
            assert module_spec is not None and module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_spec.name] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except UsageError:
        raise
    except Exception as exc:
        raise UsageError(
            f"{what} {spec!r}: importing {target} from {root} failed: {type(exc).__name__}: {exc}"
        ) from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"{what} {spec!r}: {target} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def metadata_of(obj: Any, spec: str, what: str) -> Any:
    """A MetaData from a MetaData, a declarative base (class or registry) or anything with `.metadata`."""
    import sqlalchemy as sa

    if isinstance(obj, sa.MetaData):
        return obj
    md = getattr(obj, "metadata", None)
    if isinstance(md, sa.MetaData):
        return md
    raise UsageError(f"{what} {spec!r} is a {type(obj).__name__}, not a MetaData or a declarative base")
