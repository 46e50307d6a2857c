"""Database URLs: which one to use, how to show it (password masked) and how to hand it to drivers.

Accepted: `postgresql://` and `postgres://` URLs, including libpq's `?host=/socket/dir` form. Every
connection goes through psycopg 3; SQLAlchemy gets the same URL as `postgresql+psycopg://`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from expandcontract.errors import UsageError

_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
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


def sqlalchemy_url(url: str) -> str:
    return "postgresql+psycopg://" + validate(url).split("://", 1)[1]


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
