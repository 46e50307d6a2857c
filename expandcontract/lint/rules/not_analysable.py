"""`not-analysable`: code the linter cannot see through offline."""

from __future__ import annotations

from expandcontract.lint.rule import META, Rule


class RULE(Rule):
    """
    What it does:
        Warns about revision code whose SQL cannot be known without a database: ops that read data at run
        time (`op.get_bind().execute(...)` results), SQL built with f-strings or other non-literal
        strings, `EXECUTE` of a computed string inside a `DO` block, and revisions that fail when rendered
        offline. The rest of the revision is still linted.

    Why is this bad?:
        Whatever that SQL does is unchecked: it may take any lock or drop anything.

    Example:
        ```python
        op.execute(f"UPDATE {table} SET flag = false")
        ```

    Use instead:
        Literal SQL, or a built-in op; if the dynamic SQL is reviewed and safe, say so:
        ```python
        # expandcontract: ignore[not-analysable] table list is fixed, each UPDATE is batched
        op.execute(f"UPDATE {table} SET flag = false WHERE id BETWEEN 1 AND 1000")
        ```
    """

    id = "not-analysable"
    kind = META
    severity = "warning"
    summary = "SQL that cannot be analysed offline"
    why = "The linter cannot see this SQL without a database, so whatever it does is unchecked."
