"""Opening connections with one clear error when the server cannot be reached."""

from __future__ import annotations

from typing import Any

import psycopg

from expandcontract.db.url import mask, scrub, validate, where
from expandcontract.errors import DatabaseUnreachable, UsageError

APPLICATION_NAME = "expandcontract"


def connect(url: str, *, autocommit: bool = False, connect_timeout: int = 10, **kwargs: Any) -> psycopg.Connection[Any]:
    """A psycopg connection, or DatabaseUnreachable naming the host/port (password masked)."""
    kwargs.setdefault("application_name", APPLICATION_NAME)
    libpq_url = validate(url)
    try:
        return psycopg.connect(libpq_url, autocommit=autocommit, connect_timeout=connect_timeout, **kwargs)
    except psycopg.OperationalError as exc:
        raise unreachable(url, exc) from None
    except psycopg.ProgrammingError as exc:  # libpq refused the URL itself (an unknown option, a bad escape)
        reason = scrub(str(exc), url)
        raise UsageError(f"database URL {mask(url)} is not valid for libpq ({reason}); fix the URL") from None


def unreachable(url: str, exc: BaseException) -> DatabaseUnreachable:
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    lines = [ln.strip() for ln in str(orig).strip().splitlines() if ln.strip() and "sqlalche.me" not in ln]
    reason = lines[-1] if lines else type(orig).__name__
    reason = scrub(reason.replace("connection failed: ", ""), url)
    return DatabaseUnreachable(
        f"cannot connect to PostgreSQL at {where(url)} ({reason}); URL {mask(url)}. "
        "Check that the server is running and the URL (--database-url, DATABASE_URL or "
        "database_url in the config) is right"
    )


def make_engine(url: str, **kwargs: Any) -> Any:
    """A SQLAlchemy engine over psycopg 3 (imported lazily: the lint path must not import SQLAlchemy)."""
    import sqlalchemy as sa

    from expandcontract.db.url import sqlalchemy_url

    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("application_name", APPLICATION_NAME)
    connect_args.setdefault("connect_timeout", 10)
    return sa.create_engine(sqlalchemy_url(url), connect_args=connect_args, **kwargs)
