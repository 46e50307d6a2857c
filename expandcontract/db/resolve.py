"""Which database a command uses: --database-url, else DATABASE_URL, else the config, else embedded."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from expandcontract.config import Config
from expandcontract.db.url import validate


@dataclass(frozen=True)
class ResolvedDatabase:
    url: str
    source: str  # "--database-url" | "DATABASE_URL" | "config" | "embedded"


def resolve_database(cli_url: str | None, config: Config, *, start_embedded: bool = True) -> ResolvedDatabase:
    if cli_url:
        return ResolvedDatabase(validate(cli_url), "--database-url")
    env = os.environ.get("DATABASE_URL")
    if env:
        return ResolvedDatabase(validate(env), "DATABASE_URL")
    if config.database_url:
        return ResolvedDatabase(validate(config.database_url), "config")
    from expandcontract.db import embedded

    st = embedded.status(config.data_path)
    if st.running and st.url:
        return ResolvedDatabase(st.url, "embedded")
    if not start_embedded:
        return ResolvedDatabase("", "embedded")
    print(
        f"starting the embedded PostgreSQL in {st.pgdata} (stop it with `expandcontract db stop`)",
        file=sys.stderr,
    )
    return ResolvedDatabase(embedded.start(config.data_path), "embedded")
