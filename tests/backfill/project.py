"""A real expandcontract project (adopt.init, scaffold.new) whose migrate revision runs op.backfill."""

from __future__ import annotations

from pathlib import Path

from expandcontract.config import load_config
from expandcontract.phases import adopt, scaffold

EXPAND = """    op.add_column("items", sa.Column("verified", sa.Boolean(), nullable=True))"""


def make_project(directory: Path, backfill_call: str, slug: str = "items-verified") -> dict[str, Path]:
    """init + new; the expand adds `items.verified`, the migrate runs `backfill_call`."""
    adopt.init(directory)
    made = scaffold.new(load_config(start=directory), "verify items", slug)
    paths = {r.phase: r.path for r in made}
    _fill(paths["expand"], EXPAND)
    _fill(
        paths["migrate"],
        "    import expandcontract.backfill.op  # noqa: F401  (env.py will import it)\n    " + backfill_call,
    )
    return paths


def _fill(path: Path, body: str) -> None:
    text = path.read_text()
    start = text.index("def upgrade() -> None:\n") + len("def upgrade() -> None:\n")
    end = text.index("def downgrade()")
    path.write_text(text[:start] + body + "\n\n\n" + text[end:])
