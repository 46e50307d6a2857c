"""Handing our connection to a project's env.py while we drive Alembic (the runner, verify, rehearse).

env.py finds the connection in `config.attributes["connection"]`; and in case the env.py builds an engine
of its own first (from sqlalchemy.url or DATABASE_URL), both point at the same database meanwhile, so it
never lands on the application's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from expandcontract.db.url import sqlalchemy_url
from expandcontract.names import ATTR_CONNECTION


@contextmanager
def handed_over(acfg: Any, conn: Any, url: str, driver: str | None = None) -> Iterator[None]:
    """While our runner or verify drives Alembic on `conn`: env.py finds the connection in
    `config.attributes`, and an env.py that builds its own engine (from sqlalchemy.url or DATABASE_URL)
    lands on the same database, never on the application's."""
    saved_env = os.environ.get("DATABASE_URL")
    saved_url = acfg.get_main_option("sqlalchemy.url")
    acfg.attributes[ATTR_CONNECTION] = conn
    os.environ["DATABASE_URL"] = url
    acfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url, driver).replace("%", "%%"))
    try:
        yield
    finally:
        acfg.attributes.pop(ATTR_CONNECTION, None)
        if saved_env is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = saved_env
        if saved_url is None:
            acfg.remove_main_option("sqlalchemy.url")
        else:
            acfg.set_main_option("sqlalchemy.url", saved_url.replace("%", "%%"))
