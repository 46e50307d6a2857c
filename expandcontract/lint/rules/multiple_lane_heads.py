"""`multiple-lane-heads` (addition): a lane with more than one head."""

from __future__ import annotations

from expandcontract.lint.rule import GRAPH, Rule


class RULE(Rule):
    """
    What it does:
        Flags a lane (expand, migrate or contract) with more than one head revision. An addition to
        lint-rules.md, from the "graph rules" of issue 3.

    Why is this bad?:
        `alembic upgrade expand@head` fails with "multiple heads", so the phase cannot run at all; usually
        two changes were authored in parallel and both revise the same lane head.

    Example:
        ```text
        versions/expand/a1_add_nickname.py   down_revision = "e0"
        versions/expand/b2_add_avatar.py     down_revision = "e0"
        ```

    Use instead:
        Make the newer revision revise the older one (`down_revision = "a1"`), or merge the heads with
        `alembic merge`.
    """

    id = "multiple-lane-heads"
    kind = GRAPH
    summary = "more than one head in a lane"
    why = "`alembic upgrade <lane>@head` refuses to run with several heads, so the phase cannot run."
