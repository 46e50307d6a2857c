"""`contract-without-expand`: a contract revision detached from its change's expand / migrate."""

from __future__ import annotations

from expandcontract.lint.rule import PHASE, Rule


class RULE(Rule):
    """
    What it does:
        Flags a contract revision whose change has no expand revision, or that does not depend on its
        change's expand (and migrate) revisions through `depends_on`.

    Why is this bad?:
        Alembic then lets the contract run before the expand and migrate it relies on, for instance
        `alembic upgrade contract@head` on a database where the new column was never backfilled. The
        destructive ops a contract may contain are only safe after its expand.

    Example:
        ```python
        ec_change = "users-drop-legacy-email"
        ec_phase = "contract"
        depends_on = None
        ```

    Use instead:
        ```python
        depends_on = ("<migrate revision id>",)  # which itself depends on the expand
        ```
    """

    id = "contract-without-expand"
    kind = PHASE
    kinds = frozenset()  # a revision-graph check, done in lint/project.py
    summary = "contract revision that does not depend on its change's expand/migrate"
    why = "Without the dependency Alembic can run the contract before the expand and migrate it relies on."
