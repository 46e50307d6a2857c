"""`verify --baseline FILE.sql`: what exists before the first revision (a `pg_dump --schema-only`), loaded
into the template every working database of a verify run is cloned from.

Some applications create their first tables outside Alembic (mlflow: `metadata.create_all()`, then the
revisions). pg_dump's plain output is SQL plus a few psql meta-commands (`\\restrict`, `\\connect`): the
meta-commands are left out, the SQL runs in one transaction on its own connection (its `SET` and
`set_config('search_path', '', false)` end with that session).
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from expandcontract.db.connect import connect
from expandcontract.errors import UsageError


def baseline_sql(path: Path) -> str:
    """The file's SQL without psql meta-commands, or UsageError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--baseline {path}: cannot read it ({exc.__class__.__name__}: {exc})") from None
    if text.startswith("PGDMP"):
        raise UsageError(
            f"--baseline {path} is a pg_dump archive (custom format): give plain SQL, "
            "`pg_dump --schema-only --no-owner --no-privileges DBNAME > FILE.sql`"
        )
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("\\"))


def load_baseline(url: str, path: Path) -> None:
    """Run the baseline on the database at `url` (a scratch database), in one transaction."""
    script = baseline_sql(path)
    if not script.strip():
        return
    with connect(url) as conn:
        try:
            conn.execute(script.encode())
        except psycopg.Error as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            hint = (
                "; dump it with --no-owner --no-privileges (the roles it names do not exist on the scratch server)"
                if isinstance(exc, psycopg.errors.UndefinedObject) and "role" in first
                else ""
            )
            raise UsageError(f"--baseline {path}: loading it failed: {type(exc).__name__}: {first}{hint}") from None
        conn.commit()
