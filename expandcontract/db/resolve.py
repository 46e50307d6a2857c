"""Which database a command uses (DESIGN.md, "Database:"): `--database-url`, else `DATABASE_URL`, else
`database_url` in the config, else `sqlalchemy.url` of the project's alembic.ini (the database plain
Alembic uses: driver suffix dropped, `%%` unescaped, `%(here)s` expanded), and only when none of them names
one, the embedded server under the project's data dir. An embedded server is never started beside a
configured database, so `.expandcontract/` is never created then.

The URL itself is always the libpq form (`postgresql://...`, what our psycopg 3 connections take); the
driver the user's URL named (`postgresql+psycopg2://`) is kept beside it and used for SQLAlchemy and
Alembic in this process (db/url.py `use_driver`): the app's own driver, e.g. psycopg2 where psycopg 3
rejects its revisions' parameters.
"""

from __future__ import annotations

import configparser
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from expandcontract.config import Config
from expandcontract.db.url import driver_of, mask, use_driver, validate
from expandcontract.errors import ConfigError

# What `alembic init` writes: a placeholder, not a database.
ALEMBIC_PLACEHOLDER = "driver://user:pass@localhost/dbname"


@dataclass(frozen=True)
class ResolvedDatabase:
    url: str
    source: str  # "--database-url" | "DATABASE_URL" | "config" | "alembic.ini" | "embedded"
    driver: str | None = None  # the SQLAlchemy driver the URL named (`psycopg2` in postgresql+psycopg2://)

    def describe(self) -> str:
        """`postgresql://app:***@db:5432/app (from alembic.ini)`, for notes and `init`."""
        return f"{mask(self.url)} (from {self.source})" if self.url else "the embedded PostgreSQL"


def configured_database(cli_url: str | None, config: Config, *, ini_url: str | None = None) -> ResolvedDatabase | None:
    """The database the user named, or None when nothing names one (then the embedded server).
    `ini_url`: alembic.ini's sqlalchemy.url as an Alembic Config already holds it (env.py passes it)."""
    if cli_url:
        return _resolved(cli_url, "--database-url")
    env = os.environ.get("DATABASE_URL")
    if env:
        return _resolved(env, "DATABASE_URL")
    if config.database_url:
        return _resolved(config.database_url, "config")
    ini_url = ini_url if ini_url is not None else alembic_ini_url(config.alembic_ini)
    if ini_url and ini_url.strip() != ALEMBIC_PLACEHOLDER:
        return _resolved(ini_url, "alembic.ini", where=f"{config.alembic_ini} sqlalchemy.url")
    return None


def resolve_database(
    cli_url: str | None, config: Config, *, start_embedded: bool = True, ini_url: str | None = None
) -> ResolvedDatabase:
    named = configured_database(cli_url, config, ini_url=ini_url)
    use_driver(named.driver if named is not None else None)
    if named is not None:
        return named
    from expandcontract.db import embedded

    st = embedded.status(config.data_path)
    if st.running and st.url:
        return ResolvedDatabase(st.url, "embedded")
    if not start_embedded:
        return ResolvedDatabase("", "embedded")
    print(
        f"starting the embedded PostgreSQL in {st.pgdata} (no database is configured: pass --database-url, set "
        "DATABASE_URL, or set sqlalchemy.url in alembic.ini to use yours; stop it with `expandcontract db stop`)",
        file=sys.stderr,
    )
    return ResolvedDatabase(embedded.start(config.data_path), "embedded")


def app_driver(config: Config, *, cli_url: str | None = None, ini_url: str | None = None) -> str | None:
    """The SQLAlchemy driver the app's own database URL names (`--database-url`, DATABASE_URL, the
    config's database_url, alembic.ini's sqlalchemy.url, first that names one), or None. Reads URLs only:
    verify and rehearse use it on their scratch databases without touching the app's."""
    for url in (cli_url, os.environ.get("DATABASE_URL"), config.database_url):
        if url and driver_of(url):
            return driver_of(url)
    try:
        url = ini_url if ini_url is not None else alembic_ini_url(config.alembic_ini)
    except ConfigError:
        return None
    return driver_of(url) if url else None


def alembic_ini_url(ini: Path) -> str | None:
    """`sqlalchemy.url` of an alembic.ini as Alembic reads it (`%(here)s` expanded, `%%` unescaped), or None
    when it has none, only the `alembic init` placeholder, or the file does not exist."""
    if not ini.is_file():
        return None
    parser = configparser.ConfigParser(defaults={"here": str(ini.parent)})
    try:
        parser.read(ini, encoding="utf-8")
        value = parser.get("alembic", "sqlalchemy.url", fallback=None)
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{ini}: cannot read it as Alembic does ({type(exc).__name__}); fix the file") from None
    value = (value or "").strip()
    if not value or value == ALEMBIC_PLACEHOLDER:
        return None
    return value


def _resolved(url: str, source: str, *, where: str | None = None) -> ResolvedDatabase:
    scheme, sep, rest = url.partition("://")
    scheme = scheme.partition("+")[0] if sep else scheme
    if sep and scheme.lower() not in ("postgresql", "postgres"):
        raise ConfigError(
            f"{where or source} names a {scheme} database ({mask(url)}); expandcontract works on PostgreSQL: "
            "give a postgresql:// URL"
        )
    return ResolvedDatabase(validate(f"{scheme}{sep}{rest}"), source, driver_of(url))
