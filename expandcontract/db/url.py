"""Database URLs: which one to use, how to show it (password masked) and how to hand it to drivers.

Accepted: `postgresql://` and `postgres://` URLs, including libpq's `?host=/socket/dir` form. Our own
direct connections go through psycopg 3; SQLAlchemy and Alembic get the same URL with the driver the
app's URL names (`postgresql+psycopg2://` in alembic.ini or DATABASE_URL: psycopg2), else psycopg 3 on
SQLAlchemy 2 and psycopg2 on SQLAlchemy 1.4 (which has no psycopg 3 dialect).

User information is split where libpq splits it (the first `@`, if no `/` comes before it), then user and
password are percent-encoded again, so a raw `?`, `#` or space in a password reaches libpq and SQLAlchemy
as the same password. An unencoded `@` or `/` in it cannot be read one way only (libpq, SQLAlchemy and
urllib each find another host, and libpq's "failed to resolve host 'ssW0rd@db'" shows half of it): such
a URL, like any URL with a second `@`, is refused with how to percent-encode it, and never printed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit

from expandcontract.errors import UsageError

_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)
# One host or a comma-separated list (libpq), each `name`, `[v6]` or empty, with an optional numeric port.
_HOST = r"(?:\[[0-9A-Fa-f:.%]*\]|[^:@\[\],/?#]*)(?::\d*)?"
_HOSTS = re.compile(rf"^{_HOST}(?:,{_HOST})*$")
PERCENT_ENCODE = (
    "the password contains characters that must be percent-encoded "
    "(@ as %40, / as %2F, ? as %3F, # as %23, a space as %20; also an @ anywhere else in the URL), e.g. "
    "python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=\"\"))' 'PASSWORD'"
)


@dataclass(frozen=True)
class _Parts:
    """A URL split the way libpq splits it: `scheme://[user[:password]@]hosts[/db][?query]`."""

    scheme: str
    user: str | None  # decoded
    password: str | None  # decoded
    rest: str  # hosts, path and query exactly as given

    def render(self, *, hide_password: bool) -> str:
        creds = ""
        if self.user is not None:
            creds = quote(self.user, safe="")
            if self.password is not None:
                creds += ":" + ("***" if hide_password and self.password else quote(self.password, safe=""))
            creds += "@"
        rest = _QUERY_PASSWORD.sub(r"\1***", self.rest) if hide_password else self.rest
        return f"{self.scheme}://{creds}{rest}"


def _split(url: str) -> _Parts | None:
    """The parts, or None when the URL cannot be read one way only (an unencoded `@` or `/` in the
    password makes libpq, SQLAlchemy and urllib disagree on where the host starts)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    user = password = None
    # libpq: user information ends at the first `@`, and only if no `/` comes before it.
    end = next((i for i, ch in enumerate(rest) if ch in "@/"), len(rest))
    if end < len(rest) and rest[end] == "@":
        userinfo, rest = rest[:end], rest[end + 1 :]
        user_raw, colon, password_raw = userinfo.partition(":")
        user = unquote(user_raw)
        password = unquote(password_raw) if colon else None
    if "@" in rest:  # a second `@` (even in the query): part of a password; libpq and urllib disagree
        return None
    hosts_and_path = rest.split("?", 1)[0]
    if not _HOSTS.match(hosts_and_path.split("/", 1)[0]):  # `u:pa/ss@h`: `u:pa` is no host:port
        return None
    return _Parts(scheme, user, password, rest)


def mask(url: str) -> str:
    """The URL with any password replaced by `***` (user information and `?password=`). A URL that does
    not parse shows only its scheme and what follows its last `@`."""
    parts = _split(url)
    if parts is not None:
        return parts.render(hide_password=True)
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***"
    if "@" not in rest:  # no user information: nothing secret but a `?password=`
        return _QUERY_PASSWORD.sub(r"\1***", url)
    tail = _QUERY_PASSWORD.sub(r"\1***", rest.rsplit("@", 1)[1])
    return f"{scheme}://***@{tail}"


def scrub(text: str, url: str) -> str:
    """`text` (a driver's error message) with the URL's password, raw and decoded, replaced by `***`."""
    parts = _split(url)
    secrets = {parts.password, quote(parts.password, safe="")} if parts is not None and parts.password else set()
    userinfo = url.partition("://")[2].rpartition("@")[0]
    if ":" in userinfo:
        raw = userinfo.split(":", 1)[1]
        secrets |= {raw, unquote(raw), *raw.split("@"), *raw.split("/")}
    secrets.update(re.findall(r"[?&]password=([^&#]*)", url, flags=re.IGNORECASE))
    for secret in sorted((s for s in secrets if len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def validate(url: str) -> str:
    """Return `url` in libpq form (`postgresql://...`, user and password percent-encoded) or raise
    UsageError with the fix."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in _SCHEMES:
        raise UsageError(f"database URL {mask(url)!r} is not a PostgreSQL URL; use postgresql://USER@HOST:PORT/DBNAME")
    parts = _split(url)
    if parts is None and "@" not in url:
        raise UsageError(f"database URL {mask(url)!r} does not parse: give HOST:PORT with a numeric port")
    if parts is None:
        raise UsageError(f"database URL {mask(url)!r} does not parse: {PERCENT_ENCODE}")
    if "\0" in (parts.user or "") + (parts.password or ""):
        raise UsageError(
            f"database URL {mask(url)!r}: the user or password contains a NUL byte, which libpq cannot send"
        )
    return _Parts("postgresql", parts.user, parts.password, parts.rest).render(hide_password=False)


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
    """The same URL for SQLAlchemy (`postgresql+DRIVER://`), checked to read the same in SQLAlchemy."""
    from sqlalchemy.engine import make_url

    libpq = validate(url)
    parts = _split(libpq)
    sa_url = f"postgresql+{sqlalchemy_driver(driver)}://" + libpq.split("://", 1)[1]
    try:
        parsed = make_url(sa_url)
    except ValueError:  # SQLAlchemy reads no libpq host list (`h1:5432,h2:5433`) in the URL itself
        raise UsageError(
            f"database URL {mask(url)!r}: SQLAlchemy cannot read a host list in the URL; give one host, or the "
            "hosts as ?host=h1:5432&host=h2:5433"
        ) from None
    if parts is None or parsed.password != parts.password or parsed.username != parts.user:
        raise UsageError(f"database URL {mask(url)!r} does not parse: {PERCENT_ENCODE}")  # pragma: no cover
    return sa_url


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
    """Host and port (the first of a libpq host list), or socket directory, and the database."""
    libpq = validate(url)
    parts = _split(libpq)
    assert parts is not None  # validate() returned it
    path, _, query_text = parts.rest.partition("?")
    query = {k: v[-1] for k, v in parse_qs(query_text).items()}
    netloc, _, dbpath = path.partition("/")
    first = netloc.split(",", 1)[0]
    m = re.match(r"^(\[[^\]]*\]|[^:]*)(?::(\d*))?$", first)
    url_host, url_port = (m.group(1).strip("[]"), m.group(2) or "") if m else ("", "")
    host = query.get("host") or unquote(url_host) or os.environ.get("PGHOST", "") or "localhost"
    port = query.get("port") or url_port or "5432"
    dbname = query.get("dbname") or unquote(dbpath) or (parts.user or "")
    return Where(host=host, port=port, dbname=dbname or "postgres")


def with_database(url: str, dbname: str) -> str:
    """The same server, another database."""
    parts = urlsplit(validate(url))
    return parts._replace(path="/" + dbname).geturl()
