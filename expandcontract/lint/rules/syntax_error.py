"""`syntax-error`: SQL PostgreSQL's parser rejects."""

from __future__ import annotations

from expandcontract.lint.rule import META, Rule


class RULE(Rule):
    """
    What it does:
        Reports SQL that PostgreSQL's own parser (pglast) rejects, at the parser's position.

    Why is this bad?:
        The migration fails when it runs; and nothing after the error can be linted.

    Example:
        ```sql
        ALTER TABEL users ADD COLUMN nickname text;
        ```

    Use instead:
        ```sql
        ALTER TABLE users ADD COLUMN nickname text;
        ```
    """

    id = "syntax-error"
    kind = META
    summary = "SQL the parser rejects"
    why = "PostgreSQL will reject this statement; the migration fails and nothing after it was linted."
