"""`unused-ignore`: an ignore comment or ec_safety_assured entry that suppresses nothing."""

from __future__ import annotations

from expandcontract.lint.rule import META, Rule


class RULE(Rule):
    """
    What it does:
        Warns about `expandcontract: ignore[rule]` comments, `ignore-file[rule]` and
        `ec_safety_assured` entries that suppressed no finding.

    Why is this bad?:
        A stale ignore silently hides the next real problem that lands on that line or in that file.

    Example:
        ```sql
        -- expandcontract: ignore[drop-column] legacy column, unused since v12
        ALTER TABLE users ADD COLUMN nickname text;
        ```

    Use instead:
        Remove the ignore.
        ```sql
        ALTER TABLE users ADD COLUMN nickname text;
        ```
    """

    id = "unused-ignore"
    kind = META
    severity = "warning"
    summary = "ignore that suppresses nothing"
    why = "A stale ignore hides the next real problem on that line or in that file."
