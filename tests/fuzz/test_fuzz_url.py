"""Database URLs with fuzzed passwords (and users): `mask` never shows the password, and `validate` either
refuses the URL (one line, password masked) or returns one that libpq itself reads back as the same user,
password, host, port and database (psycopg's `conninfo_to_dict` is libpq's own parser)."""

from __future__ import annotations

from urllib.parse import unquote

from hypothesis import assume, given
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import make_url

from expandcontract.db.url import mask, sqlalchemy_url, validate, where
from expandcontract.errors import UsageError
from tests.fuzz.strategies import FUZZ

HOSTILE = "@/?#:% &=+[]\\'\"\t\n"
secrets = st.text(alphabet=st.one_of(st.sampled_from(HOSTILE), st.characters(codec="utf-8")), min_size=6, max_size=24)
users = st.text(alphabet="abcxyz_-.", min_size=1, max_size=8)
hosts = st.sampled_from(["db.internal", "127.0.0.1", "[::1]", "h1:5433,h2:5434", ""])
tails = st.sampled_from(["/app", "/app?sslmode=require", "", "/app?host=/var/run/postgresql", "/my%20db"])
ports = st.sampled_from(["", ":5432", ":6543"])


@FUZZ
@given(user=users, password=secrets, host=hosts, port=ports, tail=tails)
def test_fuzzed_passwords_never_leak_and_read_the_same_in_libpq(
    user: str, password: str, host: str, port: str, tail: str
) -> None:
    if "," in host:
        port = ""
    url = f"postgresql://{user}:{password}@{host}{port}{tail}"
    rest = url.replace(password, "", 1)
    assume(password not in rest)  # the password is not also the host or the database name
    assert password not in mask(url)
    try:
        libpq = validate(url)
    except UsageError as exc:
        assert password not in str(exc) and "\n" not in str(exc)
        return
    assert password not in mask(libpq) and password not in str(where(url))
    if "," not in host:  # SQLAlchemy reads no libpq host list (sqlalchemy_url says so, one line)
        sa = make_url(sqlalchemy_url(url))  # and SQLAlchemy reads the same credentials
        assert (sa.username, sa.password or "") == (user, unquote(password))
    parsed = conninfo_to_dict(libpq)
    assert parsed.get("user") == user
    assert parsed.get("password", "") == unquote(password)  # a `%XX` the user wrote is an escape, as in any URL
    expected_host = {"[::1]": "::1", "h1:5433,h2:5434": "h1,h2"}.get(host, host)
    if host and "host=" not in tail:
        assert parsed.get("host") == expected_host
        first = {"db.internal": "db.internal", "127.0.0.1": "127.0.0.1", "[::1]": "::1", "h1:5433,h2:5434": "h1"}
        assert where(url).host == first[host]
