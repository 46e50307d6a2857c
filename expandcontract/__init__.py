"""expandcontract: zero-downtime PostgreSQL schema changes for SQLAlchemy + Alembic.

The public API is what `__all__` lists; everything else is private and may change. Names are loaded on
first use, so `import expandcontract` stays cheap (the .sql lint path must not import SQLAlchemy).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (5 ms of every start)
if TYPE_CHECKING:
    from typing import Any


def _version() -> str:
    """The version setuptools-scm derived from the git tags when this tree was built or installed."""
    try:
        from expandcontract._version import version  # type: ignore[import-not-found, unused-ignore]
    except ImportError:  # a tree installed before the version file existed, or never installed
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed

        try:
            return installed("expandcontract")
        except PackageNotFoundError:
            return "0+unknown"
    return str(version)


__version__ = _version()

_EXPORTS: dict[str, str] = {
    "Classifier": "expandcontract.phases.stamp",
    "Config": "expandcontract.config",
    "ExpandContractError": "expandcontract.errors",
    "PodClass": "expandcontract.phases.stamp",
    "Project": "expandcontract.phases.project",
    "load_config": "expandcontract.config",
    "load_project": "expandcontract.phases.project",
    "make_stamp": "expandcontract.phases.stamp",
    "plan_upgrade": "expandcontract.phases.planner",
    "project_status": "expandcontract.phases.status",
    "rehearse": "expandcontract.rehearse",
    "run_downgrade": "expandcontract.phases.run",
    "run_migrations": "expandcontract.env",
    "run_phase": "expandcontract.phases.run",
    "verify_project": "expandcontract.verify",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'expandcontract' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
