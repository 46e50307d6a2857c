"""Passwords never leave the process: not in messages, not in JSON, not in exceptions.

Passwords with `@`, `/`, `?`, `#` or a space, unencoded, go to every command that prints a URL or a
connection error, against a closed port, a TCP server that is not PostgreSQL, and a real server with a
role and database that do not exist. `@` and `/` make the URL ambiguous (libpq, SQLAlchemy and urllib
read different hosts from it), so it is refused with the fix; `?`, `#` and spaces are read as libpq reads
them and percent-encoded before any driver sees them.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from expandcontract.cli import cli
from expandcontract.db.url import PERCENT_ENCODE, mask, scrub, validate, where

# Each password is two distinctive halves around the character that breaks naive URL handling.
PASSWORDS = {"at": "Zq7hun@Xk9ter", "slash": "Zq7hun/Xk9ter", "query": "Zq7hun?Xk9ter", "hash": "Zq7hun#Xk9ter"}
PASSWORDS["space"] = "Zq7hun Xk9ter"
FRAGMENTS = ("Zq7hun", "Xk9ter")
AMBIGUOUS = {"at", "slash"}

COMMANDS = {
    "status": ["status"],
    "doctor": ["doctor"],
    "doctor-fix": ["doctor", "--fix"],
    "run": ["run", "expand"],
    "history": ["history"],
    "lint-schema-from-db": ["lint"],
    "backfill-status": ["backfill", "status"],
    "backfill-work": ["backfill", "work", "users-email", "--wait", "0"],
    "backfill-pause": ["backfill", "pause", "users-email"],
    "plan": ["plan", "expand"],
    "downgrade": ["downgrade", "--change", "x", "--phase", "expand", "--yes"],
    "verify": ["verify"],
    "rehearse": ["rehearse", "--old", "HEAD", "--new-models", "models.py:metadata", "--seconds", "0.1"],
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("secrets")
    r = CliRunner().invoke(cli, ["init", str(root)])
    assert r.exit_code == 0, r.output
    (root / "models.py").write_text(
        "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
        "sa.Table('t', metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
    )
    r = CliRunner().invoke(cli, ["--config", str(root / "pyproject.toml"), "new", "users email", "--change", "users"])
    assert r.exit_code == 0, r.output
    (migrate,) = (root / "migrations" / "versions" / "migrate").glob("*.py")  # `backfill work` needs its op.backfill
    text = migrate.read_text()
    body = 'op.backfill("t", values={"id": "id"}, name="users-email")'
    migrate.write_text(re.sub(r"(def upgrade\(\) -> None:\n)(?:    .*\n)+", rf"\g<1>    {body}\n", text, count=1))
    assert body in migrate.read_text()
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root


@pytest.fixture(scope="module")
def not_postgres() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that answers every connection with junk and closes it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"HTTP/1.0 400 nope\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()
    thread.join(timeout=5)


def _with_password(server_url: str, password: str, *, user: str, dbname: str) -> str:
    """`server_url` (TCP or socket form) with another user, database and a raw, unencoded password."""
    rest = validate(server_url).split("://", 1)[1]
    rest = rest.split("@", 1)[1] if "@" in rest.split("/", 1)[0] else rest
    hosts, _, tail = rest.partition("/")
    query = tail.partition("?")[2]
    return f"postgresql://{user}:{password}@{hosts}/{dbname}" + (f"?{query}" if query else "")


def _targets(pg_server_url: str, not_postgres: int, password: str) -> dict[str, str]:
    return {
        "closed-port": f"postgresql://app:{password}@127.0.0.1:1/app",
        "not-postgres": f"postgresql://app:{password}@127.0.0.1:{not_postgres}/app",
        "wrong-role-and-db": _with_password(pg_server_url, password, user="ec_no_role", dbname="ec_no_db_secrets"),
    }


def _assert_clean(texts: list[str]) -> None:
    for text in texts:
        for fragment in FRAGMENTS:
            assert fragment not in text, text


@pytest.mark.parametrize("pw", sorted(PASSWORDS))
@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("target", ["closed-port", "not-postgres", "wrong-role-and-db"])
def test_no_command_leaks_the_password(
    project: Path,
    pg_server_url: str,
    not_postgres: int,
    monkeypatch: pytest.MonkeyPatch,
    pw: str,
    command: str,
    target: str,
) -> None:
    monkeypatch.chdir(project)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    url = _targets(pg_server_url, not_postgres, PASSWORDS[pw])[target]
    for fmt in ("text", "json"):
        args = [*COMMANDS[command], "--database-url", url, "--format", fmt]
        r = CliRunner().invoke(cli, args)
        _assert_clean([r.stdout, r.stderr, repr(r.exception)])
        assert isinstance(r.exception, SystemExit) and r.exit_code == 2, (r.exit_code, r.stderr, r.exception)
        assert "Traceback" not in r.stderr
        error_lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
        assert len(error_lines) == 1, r.stderr
        if pw in AMBIGUOUS:
            assert "the password contains characters that must be percent-encoded" in error_lines[0]
        else:
            assert "cannot connect to PostgreSQL" in error_lines[0] and "***" in error_lines[0]
        if fmt == "json":
            doc = json.loads(r.stdout)  # exactly one document
            assert doc["error"]["code"] == 2


def test_database_url_from_the_environment_is_masked_too(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    monkeypatch.setenv("DATABASE_URL", "postgres://app:Zq7hun@Xk9ter@127.0.0.1:1/app")
    r = CliRunner().invoke(cli, ["status"])
    assert r.exit_code == 2 and PERCENT_ENCODE in r.stderr
    _assert_clean([r.stdout, r.stderr])


@pytest.mark.parametrize("pw", sorted(PASSWORDS))
def test_mask_and_where_never_show_the_password(pw: str) -> None:
    url = f"postgresql://app:{PASSWORDS[pw]}@db.internal:6543/app?sslmode=require"
    _assert_clean([mask(url)])
    assert mask(url).endswith("db.internal:6543/app?sslmode=require")
    if pw not in AMBIGUOUS:
        assert str(where(url)) == "db.internal:6543 (database 'app')"
        assert validate(url).startswith("postgresql://app:Zq7hun%")


def test_encoded_passwords_round_trip_to_libpq(pg_server_url: str) -> None:
    """A percent-encoded password reaches the server decoded: the server sees what the user meant."""
    from urllib.parse import quote

    from expandcontract.db.connect import connect

    url = _with_password(pg_server_url, quote("Zq7hun@/?# Xk9ter", safe=""), user="postgres", dbname="postgres")
    if "host=/" in pg_server_url:  # the embedded server's superuser is its own
        url = _with_password(
            pg_server_url, quote("Zq7hun@/?# Xk9ter", safe=""), user=_user(pg_server_url), dbname="postgres"
        )
    with connect(url) as conn:
        assert conn.info.password == "Zq7hun@/?# Xk9ter"
        assert conn.execute("SELECT 1").fetchone() == (1,)


def _user(url: str) -> str:
    rest = validate(url).split("://", 1)[1]
    return rest.split("@", 1)[0].split(":", 1)[0] if "@" in rest.split("/", 1)[0] else "postgres"


def test_scrub_removes_raw_and_decoded_passwords() -> None:
    url = "postgresql://app:Zq7hun%40Xk9ter@h/db"
    assert scrub('failed for "Zq7hun@Xk9ter" at h', url) == 'failed for "***" at h'
    assert scrub("no secret here", url) == "no secret here"
