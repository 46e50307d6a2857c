"""Opening connections with one clear error when the server cannot be reached, and with every wait on
the network bounded.

Each connection gets libpq TCP keepalives and `tcp_user_timeout` (a link whose packets are lost is
declared dead in ~30 s instead of the OS's ~15 minutes); the server ends our session if it sits idle
inside a transaction (`idle_in_transaction_session_timeout`: a client that vanished mid-batch does not
keep its row locks) and watches the link with the same keepalives; and a stall check covers links that
ACK but carry nothing (watch.py). Values the database URL sets itself win. The settings come from
`[tool.expandcontract.connection]` (`tune()`).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from expandcontract.config import ConnectionConfig
from expandcontract.db.url import mask, scrub, validate, where
from expandcontract.db.watch import Watch, WatchedConnection
from expandcontract.errors import DatabaseUnreachable, UsageError

APPLICATION_NAME = "expandcontract"

_settings = ConnectionConfig()


def tune(config: ConnectionConfig) -> None:
    """Use these network bounds for every connection opened from now on (the CLI calls it once)."""
    global _settings
    _settings = config


def settings() -> ConnectionConfig:
    return _settings


def network_params(conninfo: str, config: ConnectionConfig | None = None) -> dict[str, Any]:
    """libpq keepalive / tcp_user_timeout parameters the conninfo does not set itself."""
    cfg = config or _settings
    given = conninfo_to_dict(conninfo)
    wanted: dict[str, Any] = {
        "keepalives": 1,
        "keepalives_idle": cfg.keepalives_idle_s,
        "keepalives_interval": cfg.keepalives_interval_s,
        "keepalives_count": cfg.keepalives_count,
    }
    if cfg.tcp_user_timeout_ms > 0:
        wanted["tcp_user_timeout"] = cfg.tcp_user_timeout_ms
    return {k: v for k, v in wanted.items() if k not in given}


def server_settings(config: ConnectionConfig) -> dict[str, str]:
    """Server-side bounds of our sessions: the server ends a session idle inside a transaction, and it
    notices a client that vanished (keepalives, tcp_user_timeout; ignored on Unix sockets) as soon as
    the client notices the server, so row locks and the runner lock do not outlive a dead link."""
    out: dict[str, str] = {}
    if config.idle_in_transaction_timeout_ms > 0:
        out["idle_in_transaction_session_timeout"] = f"{config.idle_in_transaction_timeout_ms}ms"
    out["tcp_keepalives_idle"] = str(config.keepalives_idle_s)
    out["tcp_keepalives_interval"] = str(config.keepalives_interval_s)
    out["tcp_keepalives_count"] = str(config.keepalives_count)
    if config.tcp_user_timeout_ms > 0:
        out["tcp_user_timeout"] = str(config.tcp_user_timeout_ms)
    return out


def open_watched(conninfo: str, *, autocommit: bool = False, connect_timeout: int = 10, **kwargs: Any) -> Any:
    """A WatchedConnection with the network bounds; psycopg's own errors on failure."""
    cfg = _settings
    params = network_params(conninfo, cfg)
    conn = WatchedConnection.connect(conninfo, autocommit=True, connect_timeout=connect_timeout, **params, **kwargs)
    try:
        options = str(conninfo_to_dict(conninfo).get("options") or kwargs.get("options") or "")
        server = {k: v for k, v in server_settings(cfg).items() if k not in options}
        if server:  # only those this server version knows (tcp_user_timeout: PostgreSQL 12+)
            conn.execute(
                "SELECT set_config(s.name, v.value, false) FROM unnest(%s::text[], %s::text[]) AS v(name, value) "
                "JOIN pg_settings s ON s.name = v.name",
                (list(server), list(server.values())),
            )
        conn.autocommit = autocommit
    except BaseException:
        conn.close()
        raise
    if cfg.stall_check_s > 0:  # 0: plain psycopg waits, no stall check
        dead_after_s = max(cfg.stall_check_s, cfg.tcp_user_timeout_ms / 1000.0, 1.0)
        side = make_conninfo(conninfo, **params, application_name=f"{APPLICATION_NAME} stall check")
        conn._watch = Watch(side, cfg.stall_check_s, dead_after_s)
    return conn


def connect(url: str, *, autocommit: bool = False, connect_timeout: int = 10, **kwargs: Any) -> psycopg.Connection[Any]:
    """A psycopg connection, or DatabaseUnreachable naming the host/port (password masked)."""
    kwargs.setdefault("application_name", APPLICATION_NAME)
    libpq_url = validate(url)
    try:
        conn: psycopg.Connection[Any] = open_watched(
            libpq_url, autocommit=autocommit, connect_timeout=connect_timeout, **kwargs
        )
        return conn
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
    the engine is a `future=True` one (commit/rollback on connections, `text()` only), as on 2.x. Its
    connections carry the same network bounds as `connect()` (over psycopg2: the libpq keepalives and
    tcp_user_timeout, without the stall check)."""
    import sqlalchemy as sa

    from expandcontract.db.url import sqlalchemy_driver, sqlalchemy_url

    name = sqlalchemy_driver(driver)
    require_driver(name)
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("application_name", APPLICATION_NAME)
    connect_args.setdefault("connect_timeout", 10)
    if int(sa.__version__.split(".")[0]) < 2:
        kwargs.setdefault("future", True)
    if name in ("psycopg2", "psycopg2cffi"):  # libpq parameters too, but no stall check
        for key, value in network_params(validate(url)).items():
            connect_args.setdefault(key, value)
    engine = sa.create_engine(sqlalchemy_url(url, name), connect_args=connect_args, **kwargs)
    if engine.dialect.driver == "psycopg":
        conninfo = validate(url)

        def _open(_dialect: Any, _rec: Any, _cargs: Any, cparams: dict[str, Any]) -> Any:
            extra = {k: v for k, v in cparams.items() if k in connect_args}
            return open_watched(conninfo, **extra)

        sa.event.listen(engine, "do_connect", _open)
    return engine


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
