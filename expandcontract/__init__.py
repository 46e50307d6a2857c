"""expandcontract: zero-downtime PostgreSQL schema changes for SQLAlchemy + Alembic.

The public API is what `__all__` lists; everything else is private and may change.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
