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


def make_engine(url: str, *, driver: str | None = None, **kwargs: Any) -> Any:
    """A SQLAlchemy engine over `driver`, else the driver the app's URL names, else psycopg 3 on SQLAlchemy
    2 and psycopg2 on 1.4 (imported lazily: the lint path must not import SQLAlchemy). On SQLAlchemy 1.4
    the engine is a `future=True` one (commit/rollback on connections, `text()` only), as on 2.x."""
    import sqlalchemy as sa

    from expandcontract.db.url import sqlalchemy_driver, sqlalchemy_url

    name = sqlalchemy_driver(driver)
    require_driver(name)
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("application_name", APPLICATION_NAME)
    connect_args.setdefault("connect_timeout", 10)
    if int(sa.__version__.split(".")[0]) < 2:
        kwargs.setdefault("future", True)
    return sa.create_engine(sqlalchemy_url(url, name), connect_args=connect_args, **kwargs)


def require_driver(name: str) -> None:
    """One clear line (exit 2) when the driver SQLAlchemy needs is not installed."""
    import importlib.util

    import sqlalchemy as sa

    module = {"psycopg2cffi": "psycopg2cffi", "pg8000": "pg8000"}.get(name, name)
    if importlib.util.find_spec(module) is not None:
        if name == "psycopg" and int(sa.__version__.split(".")[0]) < 2:
            raise UsageError(
                f"the database URL names psycopg 3 (postgresql+psycopg://) but SQLAlchemy {sa.__version__} has no "
                "psycopg 3 dialect: name psycopg2 (postgresql+psycopg2://, pip install psycopg2-binary) or "
                "upgrade SQLAlchemy to 2.x"
            )
        return
    why = "the app's database URL names it" if name != "psycopg2" or int(sa.__version__[0]) >= 2 else ""
    why = why or f"SQLAlchemy {sa.__version__} has no psycopg 3 dialect"
    package = {"psycopg2": "psycopg2-binary"}.get(name, name)
    raise UsageError(f"SQLAlchemy needs the {name} driver here ({why}) and it is not installed: pip install {package}")


class _CursorExecutor:
    """psycopg 3's `connection.execute(sql, params) -> cursor` on a DB-API connection without it (psycopg2)."""

    def __init__(self, dbapi_connection: Any) -> None:
        self.dbapi_connection = dbapi_connection

    def execute(self, query: Any, params: Any = None) -> Any:
        if hasattr(query, "as_string"):  # a psycopg 3 sql.Composable: render it first
            query = query.as_string(None)
        cursor = self.dbapi_connection.cursor()
        cursor.execute(query, params)
        return cursor

    def __getattr__(self, name: str) -> Any:  # autocommit, info, dsn: the connection's own
        return getattr(self.dbapi_connection, name)


def executor(dbapi_connection: Any) -> Any:
    """The driver connection under a SQLAlchemy connection, with psycopg 3's `execute()` whatever the driver
    (the runner's lock guard queries through it: psycopg 3, or psycopg2 where the app's URL names it)."""
    return dbapi_connection if hasattr(dbapi_connection, "execute") else _CursorExecutor(dbapi_connection)
