"""What every command shares: global options (accepted before or after COMMAND), the lazily loaded
config and database, `--format`, and turning our exceptions into one line and an exit code."""

from __future__ import annotations

import functools
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import click

from expandcontract.config import Config, load_config
from expandcontract.errors import ExpandContractError

F = TypeVar("F", bound=Callable[..., Any])


class FiniteFloat(click.ParamType[float]):
    """A finite number within [low, high]: click's FloatRange lets `nan` through (every comparison with it
    is false), and `--wait nan` or `--seconds inf` is a command that never ends."""

    name = "number"

    def __init__(self, low: float, high: float, *, low_open: bool = False) -> None:
        self.low, self.high, self.low_open = low, high, low_open

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        above = number > self.low if self.low_open else number >= self.low
        if not (math.isfinite(number) and above and number <= self.high):
            low = f"more than {self.low:g}" if self.low_open else f"at least {self.low:g}"
            self.fail(f"{value!r} is out of range; use a finite number {low} and at most {self.high:g}", param, ctx)
        return number


@dataclass
class AppContext:
    database_url: str | None = None
    config_path: Path | None = None
    _config: Config | None = field(default=None, repr=False)

    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
            from expandcontract.db.connect import tune

            tune(self._config.connection)  # the network bounds of every connection this command opens
        return self._config

    def database_url_resolved(self, *, start_embedded: bool = True) -> str:
        from expandcontract.db.resolve import resolve_database

        return resolve_database(self.database_url, self.config(), start_embedded=start_embedded).url


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is not None:
            obj = ctx.find_root().ensure_object(AppContext)
            setattr(obj, name, value)
        return value

    return callback


def global_options(fn: F) -> F:
    """`--database-url` and `--config`, valid on the group and on every command."""
    fn = click.option(
        "--database-url",
        "database_url",
        default=None,
        expose_value=False,
        callback=_store("database_url"),
        help=(
            "PostgreSQL URL (else DATABASE_URL, else the config, else alembic.ini sqlalchemy.url, "
            "else the embedded server)."
        ),
    )(fn)
    fn = click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path),
        default=None,
        expose_value=False,
        callback=_store("config_path"),
        help="Config file (default: nearest pyproject.toml with [tool.expandcontract]).",
    )(fn)
    return fn


def format_option(*choices: str) -> Callable[[F], F]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices or ("text", "json"))),
        default="text",
        show_default=True,
        help="Output format; json prints exactly one document on stdout.",
    )


def app(ctx: click.Context | None = None) -> AppContext:
    ctx = ctx or click.get_current_context()
    return ctx.find_root().ensure_object(AppContext)


def emit_error(message: str, code: int, *, as_json: bool, details: dict[str, object] | None = None) -> None:
    """`error: <one line>` on stderr, and with --format json one `{"error": {...}}` document on stdout."""
    click.echo(f"error: {message}", err=True)
    if as_json:
        click.echo(json.dumps({"error": {"code": code, "message": message, **(details or {})}}, default=str))


def wants_json(argv: list[str]) -> bool:
    """Whether the command line asks for `--format json` (before click has parsed it)."""
    for i, arg in enumerate(argv):
        if arg == "--format" and i + 1 < len(argv) and argv[i + 1] == "json":
            return True
        if arg == "--format=json":
            return True
    return False


def _known_urls() -> list[str]:
    """Every database URL this process may have been given, to scrub their passwords from messages."""
    urls = [os.environ.get("DATABASE_URL") or ""]
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        obj = ctx.find_root().obj
        if isinstance(obj, AppContext):
            urls += [obj.database_url or "", (obj._config.database_url if obj._config else None) or ""]
    return [u for u in urls if u]


def scrub_secrets(text: str) -> str:
    """`text` without the password of any database URL we were given (a last line of defence: messages
    are built from masked URLs, but a driver's text may quote what it was handed)."""
    from expandcontract.db.url import scrub

    for url in _known_urls():
        text = scrub(text, url)
    return text


def handle_errors(fn: F) -> F:
    """Our exceptions -> one line on stderr (and the JSON error document under --format json) and the
    exception's exit code; no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = kwargs.get("fmt") == "json"
        try:
            return fn(*args, **kwargs)
        except ExpandContractError as exc:
            emit_error(scrub_secrets(str(exc)), exc.exit_code, as_json=as_json, details=exc.details())
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            emit_error("interrupted", 130, as_json=as_json)
            sys.exit(130)
        except Exception as exc:
            # A connection lost mid-command (server restarted, network): one line, not a traceback.
            if type(exc).__name__ == "OperationalError" and type(exc).__module__.split(".")[0] in (
                "psycopg",
                "sqlalchemy",
            ):
                orig = getattr(exc, "orig", None) or exc
                emit_error(
                    f"lost the database connection ({scrub_secrets(str(orig).strip().splitlines()[0])}); "
                    "check the server and re-run (completed steps are recorded)",
                    2,
                    as_json=as_json,
                )
                sys.exit(2)
            # A bug: keep the traceback, but not a password a library put into the message.
            if exc.args and any(isinstance(a, str) and scrub_secrets(a) != a for a in exc.args):
                exc.args = tuple(scrub_secrets(a) if isinstance(a, str) else a for a in exc.args)
            raise

    return wrapper  # type: ignore[return-value]


def command(**settings: Any) -> Callable[[F], click.Command]:
    """`@command()` = click.command + global options + error handling."""

    def decorate(fn: F) -> click.Command:
        cmd: click.Command = click.command(**settings)(global_options(handle_errors(fn)))
        return cmd

    return decorate


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job cancelled) raises KeyboardInterrupt in the main thread, so cleanups run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
