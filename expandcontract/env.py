"""The body of a project's `migrations/env.py`, so that file stays about ten lines.

Online: each revision runs in its own transaction (`transaction_per_migration=True`), any transaction
SQLAlchemy autobegun on the connection is committed before `context.configure()` (otherwise Alembic
treats it as external and `autocommit_block` fails), and `on_version_apply` records phase state inside
each step's transaction. When our runner drives Alembic it hands its connection and hooks in through
`config.attributes`; plain `alembic upgrade expand@head` gets the same behaviour with a connection of
its own. Offline (`alembic upgrade --sql`): plain SQL output.
"""

from __future__ import annotations

from typing import Any

from expandcontract.names import ATTR_BEFORE_MIGRATIONS, ATTR_CONNECTION, ATTR_ON_STEP, ATTR_RUN_ID


def run_migrations(target_metadata: Any = None, **configure_kwargs: Any) -> None:
    from alembic import context

    import expandcontract.backfill.op  # noqa: F401  (registers op.backfill)

    if context.is_offline_mode():
        context.configure(
            url=_url(context.config),
            target_metadata=target_metadata,
            literal_binds=True,
            transaction_per_migration=True,
            dialect_opts={"paramstyle": "named"},
            **configure_kwargs,
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    conn = context.config.attributes.get(ATTR_CONNECTION)
    if conn is not None:
        _run_online(conn, target_metadata, configure_kwargs)
        return
    from expandcontract.db.connect import make_engine

    engine = make_engine(_url(context.config))
    try:
        with engine.connect() as conn:
            _run_online(conn, target_metadata, configure_kwargs)
    finally:
        engine.dispose()


def _url(acfg: Any) -> str:
    """The database every expandcontract command uses (db/resolve.py): DATABASE_URL, the config's
    database_url, this alembic.ini's sqlalchemy.url, else the embedded server."""
    from pathlib import Path

    from expandcontract.config import load_config
    from expandcontract.db.resolve import resolve_database

    start = Path(acfg.config_file_name).resolve().parent if acfg.config_file_name else None
    ini_url = acfg.get_main_option("sqlalchemy.url") or ""
    return resolve_database(None, load_config(start=start), ini_url=ini_url).url


def _run_online(conn: Any, target_metadata: Any, configure_kwargs: dict[str, Any]) -> None:
    from alembic import context

    context.configure(connection=conn, target_metadata=target_metadata, **_our_kwargs(context, conn, configure_kwargs))
    with context.begin_transaction():
        context.run_migrations()
    if conn.in_transaction():
        conn.commit()


def _our_kwargs(context: Any, conn: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`context.configure` keyword arguments as we need them on `conn`: one transaction per revision and
    phase state recorded in each step's transaction (after the project's own `on_version_apply`, if any).
    Commits a transaction SQLAlchemy autobegun on `conn` first (Alembic would take it as external)."""
    from sqlalchemy import text

    from expandcontract.backfill.checkpoint import bind_to_revision, forget_revision
    from expandcontract.phases.state import ensure_schema_sql, record_step

    acfg = context.config
    if conn.in_transaction():
        conn.commit()
    conn.execute(text(ensure_schema_sql()))
    conn.commit()
    before = acfg.attributes.get(ATTR_BEFORE_MIGRATIONS)
    if before is not None:
        before()
    run_id = acfg.attributes.get(ATTR_RUN_ID)
    on_step = acfg.attributes.get(ATTR_ON_STEP)
    meta: dict[str, tuple[str | None, str | None]] = {}

    def on_version_apply(ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        if not meta:
            for sc in context.script.walk_revisions():
                meta[sc.revision] = (getattr(sc.module, "ec_change", None), getattr(sc.module, "ec_phase", None))
        record_step(
            ctx.connection,
            revision_ids=tuple(step.up_revision_ids) if step.is_upgrade else (),
            down_ids=tuple(step.up_revision_ids) if not step.is_upgrade else (),
            is_upgrade=bool(step.is_upgrade),
            meta=meta,
            run_id=run_id,
        )
        for rid in step.up_revision_ids:  # a backfill's checkpoint lives and dies with its revision
            (bind_to_revision if step.is_upgrade else forget_revision)(ctx.connection, rid)
        if on_step is not None:
            on_step(ctx, step)

    on_version_apply.expandcontract = True  # type: ignore[attr-defined]
    theirs = _callbacks(kwargs.get("on_version_apply"))  # the project's own hooks run first
    return {**kwargs, "transaction_per_migration": True, "on_version_apply": (*theirs, on_version_apply)}


def _callbacks(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list | tuple | set) else (value,)


def instrument(context: Any) -> None:
    """For a project that keeps its own env.py (`init` adds two lines calling this after `from alembic
    import context`): its `context.configure(...)` then runs each revision in its own transaction, records
    phase state, and, when our runner or verify drives Alembic, uses the connection they hand in (so the
    env.py's own engine never decides which database is migrated). Everything else the env.py passes
    (version_table, include_schemas, ...) is kept."""
    import expandcontract.backfill.op  # noqa: F401  (registers op.backfill)

    if getattr(context.configure, "expandcontract", False):
        return
    original = context.configure

    def configure(*args: Any, **kwargs: Any) -> Any:
        hooks = _callbacks(kwargs.get("on_version_apply"))
        if context.is_offline_mode() or any(getattr(h, "expandcontract", False) for h in hooks):
            return original(*args, **kwargs)
        ours = context.config.attributes.get(ATTR_CONNECTION)
        conn = ours if ours is not None else kwargs.get("connection")
        if conn is None:
            return original(*args, **kwargs)
        kwargs["connection"] = conn
        return original(*args, **_our_kwargs(context, conn, kwargs))

    configure.expandcontract = True  # type: ignore[attr-defined]
    context.configure = configure
