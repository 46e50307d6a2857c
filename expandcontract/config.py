"""`[tool.expandcontract]` (pyproject.toml) or expandcontract.toml -> frozen dataclasses.

Unknown keys are an error (exit 2) naming the key, the file and the keys that are valid there, because a
misspelt `lock_timout_ms` that is silently ignored is how a migration ends up running without a lock
timeout. Each section is one dataclass; adding a key means adding a field with a default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expandcontract import config_file
from expandcontract.config_range import (
    DAY_MS,
    DAY_S,
    HOUR_MS,
    HOUR_S,
    INT32_MAX,
    MAX_KEYS,
    MAX_ROWS,
    out_of_range,
    ranged,
)
from expandcontract.errors import ConfigError


@dataclass(frozen=True)
class DDLConfig:
    """How the runner takes locks for DDL (DESIGN.md, "Running phases safely")."""

    lock_timeout_ms: int = ranged(100, 1, INT32_MAX, unit="ms", why="0 would wait for locks forever")
    # 0: no statement_timeout (CONCURRENTLY builds can take hours)
    statement_timeout_ms: int = ranged(0, 0, INT32_MAX, unit="ms", why="0 means none")
    retries: int = ranged(30, 0, 10_000)
    retry_budget_s: float = ranged(60.0, 0.0, DAY_S, low_open=True, unit="s")
    retry_base_ms: int = ranged(50, 1, HOUR_MS, unit="ms", at_most="retry_max_ms")
    retry_max_ms: int = ranged(2000, 1, HOUR_MS, unit="ms")
    # wait this long for long lock holders to finish before trying
    holder_wait_s: float = ranged(10.0, 0.0, DAY_S, unit="s")
    # a lock held longer than this counts as "long"
    long_holder_ms: int = ranged(200, 0, DAY_MS, unit="ms")


@dataclass(frozen=True)
class LintConfig:
    pg_version: int = ranged(17, 10, 99, why="the linter knows PostgreSQL 10 and later")
    transaction: str = "per-file"
    schema: str | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=dict)
    downgrade: str = "warning"  # severity of findings in revisions' downgrade(): error | warning | off
    fail_on_not_analysable: bool = False  # code the linter cannot see offline fails the lint (CI)


@dataclass(frozen=True)
class BackfillConfig:
    # the per-batch statement_timeout is 10x this, and must fit PostgreSQL's int32 ms
    batch_time_ms: int = ranged(100, 1, 600_000, unit="ms")
    initial_batch_size: int = ranged(1000, 1, MAX_ROWS)  # clamped to [min, max]
    min_batch_size: int = ranged(10, 1, MAX_ROWS, at_most="max_batch_size")
    max_batch_size: int = ranged(100_000, 1, MAX_ROWS)
    sleep_ms: int = ranged(0, 0, HOUR_MS, unit="ms")
    max_replica_lag_s: float = ranged(10.0, 0.0, DAY_S, low_open=True, unit="s", why="0 would never proceed")
    max_waiting_sessions: int = ranged(0, 0, 100_000)
    max_transaction_age_s: float = ranged(3600.0, 0.0, 30 * DAY_S, low_open=True, unit="s")
    health_check_sql: str | None = None
    health_check: str | None = None  # "module:function"
    signal_timeout_s: float = ranged(15.0, 0.0, DAY_S, low_open=True, unit="s")
    # how often the throttle signals are read between batches
    check_interval_s: float = ranged(1.0, 0.0, HOUR_S, unit="s", why="0 means before every batch")
    # keys per range that workers claim (`backfill work`)
    range_rows: int = ranged(1_000_000, 1, MAX_KEYS, why="0 would claim empty ranges forever")
    # give up reconnecting after a lost connection after this long
    reconnect_timeout_s: float = ranged(300.0, 0.0, DAY_S, low_open=True, unit="s")
    # a batch locks at most this share of the table's rows (0: no cap)
    max_batch_fraction: float = ranged(0.01, 0.0, 1.0, why="0 means no cap")
    # batch workers of `run migrate` (threads, each its own connection); --workers N
    workers: int = ranged(1, 1, 64)


@dataclass(frozen=True)
class ConnectionConfig:
    """How our sessions notice a dead or stalled network (docs/concepts.md, "Faults"): libpq TCP keepalives
    and tcp_user_timeout, a side check of our server session after a silence, and a server-side bound on
    a session left idle inside a transaction. Values in the database URL win over these."""

    # first keepalive probe after this much idle time
    keepalives_idle_s: int = ranged(10, 1, INT32_MAX, unit="s")
    keepalives_interval_s: int = ranged(5, 1, INT32_MAX, unit="s")
    # unanswered probes before the link is dead (~25 s with the defaults)
    keepalives_count: int = ranged(3, 1, INT32_MAX)
    # sent data unacknowledged this long: the link is dead (0: OS default)
    tcp_user_timeout_ms: int = ranged(30_000, 0, INT32_MAX, unit="ms", why="0 means the OS default")
    # no reply this long: ask the server whether our session still works (0: never)
    stall_check_s: float = ranged(10.0, 0.0, DAY_S, unit="s", why="0 means never")
    # the server ends our session idle in a transaction this long (0: never)
    idle_in_transaction_timeout_ms: int = ranged(60_000, 0, INT32_MAX, unit="ms", why="0 means never")


@dataclass(frozen=True)
class TargetConfig:
    """One entry of `[tool.expandcontract.rollout] targets = [{kind, name, namespace}, ...]`."""

    kind: str
    name: str
    namespace: str | None = None  # default: the rollout section's namespace


@dataclass(frozen=True)
class RolloutConfig:
    """The workloads the gate reads: one (`kind`, `name`), several (`targets`), or every workload a label
    `selector` matches in `namespace` (restricted to `kinds` when given). Kinds are checked against the
    gate's strategy registry when the gate runs (expandcontract/gates/registry.py)."""

    kind: str | None = None  # Deployment | StatefulSet | DaemonSet | Service | Rollout | Canary | Job | CronJob
    name: str | None = None
    namespace: str = "default"
    targets: tuple[TargetConfig, ...] = ()
    selector: str | None = None  # a label selector as `kubectl -l` takes it
    kinds: tuple[str, ...] = ()
    kubeconfig: str | None = None
    context: str | None = None
    colour_key: str | None = None
    colours: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServeConfig:
    """`expandcontract serve`. The bearer token is better given as EXPANDCONTRACT_SERVE_TOKEN or a file
    (a mounted Secret) than written into the config."""

    token: str | None = None
    token_file: str | None = None
    max_body_bytes: int = ranged(65536, 1, 1 << 30, unit="bytes")


@dataclass(frozen=True)
class Config:
    root: Path = field(default_factory=Path.cwd)
    source: Path | None = None
    alembic_config: str = "alembic.ini"
    database_url: str | None = None
    data_dir: str = ".expandcontract"
    require_gate: bool = False
    models: str | None = None  # "module.path:attr" or "path/to/file.py:attr": a MetaData or a declarative base
    traffic: str | None = None  # "module:function(connection)": custom app traffic for rehearse
    # "module:callable": a context manager factory (or an app factory whose result has .app_context()) entered
    # around importing, rendering and running revisions that need the app initialised (Flask-Migrate)
    app_context: str | None = None
    ddl: DDLConfig = field(default_factory=DDLConfig)
    lint: LintConfig = field(default_factory=LintConfig)
    backfill: BackfillConfig = field(default_factory=BackfillConfig)
    connection: ConnectionConfig = field(default_factory=ConnectionConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)

    @property
    def alembic_ini(self) -> Path:
        return (self.root / self.alembic_config).resolve()

    @property
    def data_path(self) -> Path:
        return (self.root / self.data_dir).resolve()

    @property
    def has_rollout_target(self) -> bool:
        rollout = self.rollout
        return bool((rollout.kind and rollout.name) or rollout.targets or rollout.selector)


def find_config_file(start: Path) -> Path | None:
    """The nearest pyproject.toml with a [tool.expandcontract] table, or expandcontract.toml."""
    found = config_file.find_config_file(str(start))
    return Path(found) if found else None


def load_config(path: Path | None = None, start: Path | None = None) -> Config:
    """Load the config from `path`, or find it from `start` (default: cwd). No file -> defaults."""
    if path is None:
        path = find_config_file((start or Path.cwd()).resolve())
        if path is None:
            return Config(root=(start or Path.cwd()).resolve())
    elif not path.is_file():
        raise ConfigError(f"config file {path} does not exist; pass an existing file to --config")
    path = path.resolve()
    data = config_file.read_toml(str(path))
    if path.name == "expandcontract.toml":
        table = data.get("tool", {}).get("expandcontract", data)
    else:
        table = data.get("tool", {}).get("expandcontract")
        if table is None:
            raise ConfigError(f"{path} has no [tool.expandcontract] table; run `expandcontract init`")
    config: Config = _build(Config, table, f"{path} [tool.expandcontract]", {"root": path.parent, "source": path})
    return config


_FIXED = {"root", "source"}


def _build(cls: type[Any], table: Any, where: str, extra: dict[str, Any] | None = None) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in _FIXED]
    kwargs: dict[str, Any] = dict(extra or {})
    for key, value in table.items():
        if key not in names:
            raise ConfigError(f"{where}: unknown key {key!r}; valid keys are: {', '.join(sorted(names))}")
        kwargs[key] = _coerce(hints[key], value, f"{where} {key}")
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in kwargs
    ]
    if required:
        raise ConfigError(f"{where}: missing key {required[0]!r} (needs {', '.join(required)})")
    built = cls(**kwargs)
    problem = out_of_range(built)
    if problem is not None:
        raise ConfigError(f"{where}: {problem}")
    return built


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, f"{where}")  # type: ignore[arg-type]
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, where)
    if origin is tuple and args and dataclasses.is_dataclass(args[0]):
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list of tables, got {value!r}")
        return tuple(_build(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))  # type: ignore[arg-type]
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, got {value!r}")
        return tuple(value)
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{where} must be a table of strings, got {value!r}")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported value {value!r}")  # pragma: no cover - schema bug
