"""`phase-lane-mismatch` (addition): `ec_phase` disagrees with the lane the revision sits in."""

from __future__ import annotations

from expandcontract.lint.rule import GRAPH, Rule


class RULE(Rule):
    """
    What it does:
        Flags a phase revision whose `ec_phase` is not the lane it belongs to (its directory and branch
        label), or is not one of expand / migrate / contract. An addition to lint-rules.md, from the graph
        rules of issue 3.

    Why is this bad?:
        The lane decides when the revision runs (`expand@head` before the deploy, `contract@head` after
        it). A revision that says contract but sits in the expand lane runs its destructive ops before
        the deploy, and the linter would judge it by the wrong phase.

    Example:
        ```python
        # versions/expand/c3_drop_legacy.py
        ec_phase = "contract"
        ```

    Use instead:
        Move the file to versions/contract/ and make it revise that lane's head, or fix `ec_phase`.
    """

    id = "phase-lane-mismatch"
    kind = GRAPH
    summary = "ec_phase differs from the revision's lane"
    why = "The lane decides when a revision runs; a mismatched phase runs at the wrong time."
