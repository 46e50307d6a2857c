"""`new` with a recipe: read the schema at heads, check and plan each recipe, write the three revisions."""

from __future__ import annotations

from collections.abc import Callable

from expandcontract.config import Config
from expandcontract.names import LANES
from expandcontract.phases import scaffold
from expandcontract.recipes.base import Recipe
from expandcontract.recipes.catalog import Refused
from expandcontract.recipes.code import ChangePlan, combine, render_body, render_docstring, render_module
from expandcontract.recipes.live import Live, schema_at_heads


def _ignore(_: str) -> None:
    pass


def plan_recipes(live: Live, recipes: list[Recipe], change: str) -> ChangePlan:
    """Check every recipe (probes included) against the schema at heads, then plan them as one change."""
    seen: dict[tuple[str, str], Recipe] = {}
    for recipe in recipes:
        for key in recipe.touches():
            other = seen.get(key)
            if other is not None:
                raise Refused(
                    f"{key[0]}.{key[1]} is changed twice ({other.flag} and {recipe.flag}); make them two changes"
                )
            seen[key] = recipe
    for recipe in recipes:
        live.probe(recipe.check(live.catalog))
    return combine([r.plan(live.catalog, change) for r in recipes])


def render(plan: ChangePlan) -> dict[str, scaffold.Body]:
    bodies: dict[str, scaffold.Body] = {}
    for name in LANES:
        phase = plan.phase(name)
        bodies[name] = scaffold.Body(
            doc=render_docstring(phase),
            module=render_module(phase, plan.renames if name == "expand" else None),
            upgrade=render_body(phase.upgrade),
            downgrade=render_body(phase.downgrade),
        )
    return bodies


def new_change(
    config: Config,
    message: str,
    change: str,
    recipes: list[Recipe],
    *,
    database_url: str | None = None,
    notify: Callable[[str], None] = _ignore,
) -> list[scaffold.NewRevision]:
    """Write `change` as the recipes say, read against the schema at the project's heads."""
    project = scaffold.check_new(config, message, change)
    with schema_at_heads(project, database_url) as live:
        plan = plan_recipes(live, recipes, change)
    return scaffold.new(config, message, change, bodies=render(plan), notify=notify)
