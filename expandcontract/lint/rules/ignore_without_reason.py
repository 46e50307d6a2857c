"""`ignore-without-reason` (addition): an ignore with no reason, which does not suppress anything."""

from __future__ import annotations

from expandcontract.lint.rule import META, Rule


class RULE(Rule):
    """
    What it does:
        Reports an `expandcontract: ignore[rule]` / `ignore-file[rule]` comment or an `ec_safety_assured`
        entry without a reason. Such an ignore is invalid: it suppresses nothing.

    Why is this bad?:
        The reason is what the reviewer and the on-call engineer read later to know why a blocking
        operation was judged safe.

    Example:
        ```sql
        -- expandcontract: ignore[create-index-non-concurrently]
        CREATE INDEX tiny_idx ON settings (key);
        ```

    Use instead:
        ```sql
        -- expandcontract: ignore[create-index-non-concurrently] settings has 12 rows
        CREATE INDEX tiny_idx ON settings (key);
        ```
    """

    id = "ignore-without-reason"
    kind = META
    summary = "ignore comment without a reason"
    why = "An ignore must say why the operation is safe; without a reason it is invalid and suppresses nothing."
