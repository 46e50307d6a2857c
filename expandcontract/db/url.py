"""Database URLs: which one to use, how to show it (password masked) and how to hand it to drivers.

Accepted: `postgresql://` and `postgres://` URLs, including libpq's `?host=/socket/dir` form. Our own
direct connections go through psycopg 3; SQLAlchemy and Alembic get the same URL with the driver the
app's URL names (`postgresql+psycopg2://` in alembic.ini or DATABASE_URL: psycopg2), else psycopg 3 on
SQLAlchemy 2 and psycopg2 on SQLAlchemy 1.4 (which has no psycopg 3 dialect).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from expandcontract.errors import UsageError

_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")
_USERINFO_PASSWORD = re.compile(r"^([a-z+]+://[^:/@?#]*):([^@/?#]*)@", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def mask(url: str) -> str:
    """The URL with any password replaced by `***` (userinfo and `?password=`)."""
    masked = _USERINFO_PASSWORD.sub(lambda m: f"{m.group(1)}:***@" if m.group(2) else m.group(0), url)
    return _QUERY_PASSWORD.sub(r"\1***", masked)


def validate(url: str) -> str:
    """Return `url` in libpq form (`postgresql://...`) or raise UsageError with the fix."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in _SCHEMES:
        raise UsageError(f"database URL {mask(url)!r} is not a PostgreSQL URL; use postgresql://USER@HOST:PORT/DBNAME")
    return "postgresql://" + url.split("://", 1)[1]


# SQLAlchemy's synchronous PostgreSQL drivers; an app URL naming another one (asyncpg) gets the default
SYNC_DRIVERS = ("psycopg", "psycopg2", "psycopg2cffi", "pg8000")
_named_driver: list[str] = []  # the driver the app's database URL names, once resolve has seen it


def driver_of(url: str) -> str | None:
    """`psycopg2` for `postgresql+psycopg2://...`; None when the URL names no synchronous driver."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    _, plus, driver = scheme.partition("+")
    return driver if plus and driver in SYNC_DRIVERS else None


def use_driver(driver: str | None) -> None:
    """From now on SQLAlchemy engines and Alembic in this process use `driver` (the app's URL named it)."""
    _named_driver[:] = [driver] if driver in SYNC_DRIVERS else []


def sqlalchemy_driver(driver: str | None = None) -> str:
    """`driver`, else the one the app's URL named, else psycopg 3 (SQLAlchemy 2) or psycopg2 (1.4)."""
    if driver in SYNC_DRIVERS:
        return driver
    if _named_driver:
        return _named_driver[0]
    import sqlalchemy

    return "psycopg" if int(sqlalchemy.__version__.split(".")[0]) >= 2 else "psycopg2"


def sqlalchemy_url(url: str, driver: str | None = None) -> str:
    return f"postgresql+{sqlalchemy_driver(driver)}://" + validate(url).split("://", 1)[1]


@dataclass(frozen=True)
class Where:
    """Where a URL points, for messages: host and port, or socket directory, and the database."""

    host: str
    port: str
    dbname: str

    def __str__(self) -> str:
        target = self.host if self.host.startswith("/") else f"{self.host}:{self.port}"
        return f"{target} (database {self.dbname!r})"


def where(url: str) -> Where:
    parts = urlsplit(validate(url))
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    host = query.get("host") or unquote(parts.hostname or "") or os.environ.get("PGHOST", "") or "localhost"
    port = query.get("port") or (str(parts.port) if parts.port else "") or "5432"
    dbname = query.get("dbname") or unquote(parts.path.lstrip("/")) or (unquote(parts.username or "") or "")
    return Where(host=host, port=port, dbname=dbname or "postgres")


def with_database(url: str, dbname: str) -> str:
    """The same server, another database."""
    parts = urlsplit(validate(url))
    return parts._replace(path="/" + dbname).geturl()
