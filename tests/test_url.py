from __future__ import annotations

import pytest

from expandcontract.db.connect import connect
from expandcontract.db.url import mask, sqlalchemy_url, validate, where, with_database
from expandcontract.errors import DatabaseUnreachable, UsageError


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://app:s3cret@db:5432/app", "postgresql://app:***@db:5432/app"),
        ("postgres://app:p%40ss@db/app?sslmode=require", "postgres://app:***@db/app?sslmode=require"),
        ("postgresql://app@db/app?password=hunter2&x=1", "postgresql://app@db/app?password=***&x=1"),
        ("postgresql:///app?host=/var/run/postgresql", "postgresql:///app?host=/var/run/postgresql"),
    ],
)
def test_passwords_are_masked(url: str, masked: str) -> None:
    assert mask(url) == masked


def test_socket_and_scheme_forms() -> None:
    assert validate("postgres://u@h/d") == "postgresql://u@h/d"
    assert sqlalchemy_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    w = where("postgresql://u@/app?host=/tmp/sock")
    assert (w.host, w.dbname) == ("/tmp/sock", "app")
    assert str(where("postgresql://u@db:6543/app")) == "db:6543 (database 'app')"
    assert with_database("postgresql://u@/a?host=/s", "b") == "postgresql://u@/b?host=/s"
    with pytest.raises(UsageError, match="not a PostgreSQL URL"):
        validate("mysql://u:pw@h/d")


def test_unreachable_server_is_one_line_with_host_port_and_masked_password() -> None:
    with pytest.raises(DatabaseUnreachable) as err:
        connect("postgresql://app:topsecret@127.0.0.1:1/app", connect_timeout=2)
    msg = str(err.value)
    assert "127.0.0.1:1" in msg and "topsecret" not in msg and "***" in msg
    assert "\n" not in msg and err.value.exit_code == 2


def test_socket_url_works(pg_server_url: str) -> None:
    if "host=/" not in pg_server_url:
        pytest.skip("this run uses a TCP server")  # the embedded run covers the socket form
    with connect(pg_server_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_embedded_server_starts_again_after_a_stop_in_the_same_process(tmp_path: object) -> None:
    from pathlib import Path

    from expandcontract.db import embedded

    data = Path(str(tmp_path))
    url = embedded.start(data)
    assert embedded.stop(data) and not embedded.status(data).running
    assert embedded.start(data) == url
    assert embedded.stop(data)
