"""Every connection we open carries the network bounds, the URL's own values win, and a link that
carries nothing is closed with an OperationalError (so callers reconnect as after a cut)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from expandcontract.config import ConnectionConfig, load_config
from expandcontract.db import connect as db
from expandcontract.db.watch import lost_connection, stalled
from tests.faults.proxy import Proxy

pytestmark = pytest.mark.integration


@pytest.fixture
def tuned() -> Iterator[None]:
    saved = db.settings()
    yield
    db.tune(saved)


def test_config_keys_and_defaults(tmp_path: Path) -> None:
    (tmp_path / "expandcontract.toml").write_text("[connection]\nkeepalives_idle_s = 7\nstall_check_s = 3\n")
    cfg = load_config(start=tmp_path).connection
    assert (cfg.keepalives_idle_s, cfg.stall_check_s, cfg.tcp_user_timeout_ms) == (7, 3.0, 30_000)


def test_connections_carry_keepalives_and_the_idle_in_transaction_bound(database_url: str, tuned: None) -> None:
    db.tune(ConnectionConfig(keepalives_idle_s=7, tcp_user_timeout_ms=12_000, idle_in_transaction_timeout_ms=45_000))
    with db.connect(database_url) as conn:
        params = conn.info.get_parameters()
        assert (params["keepalives"], params["keepalives_idle"], params["tcp_user_timeout"]) == ("1", "7", "12000")
        assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("45s",)
        assert not conn.autocommit
        if conn.execute("SELECT inet_client_addr() IS NOT NULL").fetchone() == (True,):  # TCP, not a socket
            server = conn.execute("SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_user_timeout')")
            assert server.fetchone() == ("7", "12000")
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw.info.get_parameters()["keepalives_idle"] == "7"
            assert conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar() == "45s"
    finally:
        engine.dispose()


def test_the_urls_own_values_win(database_url: str, tuned: None) -> None:
    sep = "&" if "?" in database_url else "?"
    url = database_url + sep + "keepalives_idle=99&options=-c%20idle_in_transaction_session_timeout%3D5000"
    with db.connect(url) as conn:
        assert conn.info.get_parameters()["keepalives_idle"] == "99"
        assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("5s",)


def test_a_network_that_carries_nothing_at_all_is_a_lost_connection(database_url: str, tuned: None) -> None:
    """Old and new connections stall (the side check cannot connect either): after the dead bound the
    statement fails with OperationalError instead of waiting forever."""
    db.tune(ConnectionConfig(stall_check_s=1, tcp_user_timeout_ms=3000))
    with Proxy.before(database_url) as proxy:
        conn = db.connect(proxy.url(database_url), autocommit=True)
        assert conn.execute("SELECT 1").fetchone() == (1,)
        proxy.stall_new = True
        proxy.stall_all()
        raised: list[BaseException] = []

        def query() -> None:
            try:
                conn.execute("SELECT 1")
            except BaseException as exc:
                raised.append(exc)

        thread = threading.Thread(target=query, daemon=True)
        thread.start()
        thread.join(60)
        assert not thread.is_alive(), "the query still waits on a dead network"
    assert raised and stalled(raised[0]), raised
    assert type(raised[0]) is psycopg.OperationalError and conn.closed  # handled like any lost connection
    assert "cannot be reached" in (lost_connection(raised[0]) or "")


def test_a_long_statement_is_not_a_stall(database_url: str, tuned: None) -> None:
    """The server still works for us (active): keep waiting, however long the silence."""
    db.tune(ConnectionConfig(stall_check_s=0.5))
    with Proxy.before(database_url) as proxy, db.connect(proxy.url(database_url), autocommit=True) as conn:
        assert conn.execute("SELECT pg_sleep(2.5), 1").fetchone() == ("", 1)


def test_lost_connection_names_only_a_lost_link() -> None:
    """A server error that psycopg files under OperationalError (a lock timeout) is not a lost link."""
    import psycopg.errors

    assert lost_connection(psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")) is None
    assert lost_connection(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")) is None
    cut = psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")
    try:
        raise RuntimeError("Can't reconnect until invalid transaction is rolled back") from cut
    except RuntimeError as wrapped:
        assert lost_connection(wrapped) == "lost the connection to the server: " + str(cut)
    assert lost_connection(psycopg.OperationalError("connection stalled: no reply for 10 s")) == (
        "connection stalled: no reply for 10 s"
    )
