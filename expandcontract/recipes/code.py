"""What a recipe returns: per phase, the steps of upgrade() and downgrade(), named SQL constants and the
docstring; and how that becomes the Python text of a revision (plain Alembic: `op.execute`, `op.backfill`,
`autocommit_block()` around statements that cannot run in a transaction).

Steps are data, so one change can hold several recipes (`--autogenerate`): their phases are joined in
order for upgrade() and in reverse order for downgrade().
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

INDENT = "    "

# Everything a recipe writes before its first autocommit block can run again (IF NOT EXISTS, OR REPLACE,
# DROP ... IF EXISTS first), so a revision that fails after the block's commit finishes when run again.
RERUNNABLE = (
    "# expandcontract: ignore[statements-before-autocommit-block] every statement before this block can run "
    "again (IF [NOT] EXISTS, OR REPLACE), so a rerun after a failure finishes the revision"
)
WIDTH = 100  # generated lines stay under this where a string can be split


@dataclass(frozen=True)
class Step:
    code: str  # one Python statement, unindented (continuation lines indented relative to it)
    autocommit: bool = False  # run outside the revision's transaction (CONCURRENTLY, VALIDATE)
    comment: str | None = None
    ignore: tuple[str, str] | None = None  # (lint rule, why it does not apply here): an ignore comment


def ignoring(step: Step, rule: str, reason: str) -> Step:
    return Step(step.code, step.autocommit, step.comment, (rule, reason))


def pystr(text: str) -> str:
    """A double-quoted Python literal of one line of text."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sql(statement: str, *, autocommit: bool = False, comment: str | None = None) -> Step:
    """`op.execute("...")`, split over lines (implicit concatenation) when long."""
    one = f"op.execute({pystr(statement)})"
    if len(one) + 8 <= WIDTH:
        return Step(one, autocommit, comment)
    parts = textwrap.wrap(statement, WIDTH - 16, break_long_words=False, break_on_hyphens=False, drop_whitespace=False)
    body = "\n".join(INDENT + pystr(p) for p in parts)
    return Step(f"op.execute(\n{body}\n)", autocommit, comment)


def run_constant(name: str, *, comment: str | None = None) -> Step:
    return Step(f"op.execute({name})", comment=comment)


def backfill(
    table: str, values: dict[str, str], where: str | None, *, name: str | None = None, comment: str | None = None
) -> Step:
    """`op.backfill(table, values={...}, where=...)` (expandcontract's batched, resumable backfill)."""
    schema, dot, bare = table.rpartition(".")
    args = [pystr(bare), "values={" + ", ".join(f"{pystr(k)}: {pystr(v)}" for k, v in values.items()) + "}"]
    if where:
        args.append(f"where={pystr(where)}")
    if dot:
        args.append(f"schema={pystr(schema)}")
    if name:
        args.append(f"name={pystr(name)}")
    one = f"op.backfill({', '.join(args)})"
    if len(one) + 8 <= WIDTH:
        return Step(one, comment=comment)
    return Step("op.backfill(\n" + ",\n".join(INDENT + a for a in args) + ",\n)", comment=comment)


def forget_backfill(*names: str) -> Step:
    """Drop the checkpoints of the backfills a downgrade() ran, so that the next downgrade fills again (a
    done backfill is skipped; the runner forgets those an upgrade() ran when it downgrades the revision,
    but the backfills of a downgrade() are still unbound then)."""
    listed = ", ".join("'" + n.replace("'", "''") + "'" for n in names)
    statement = (
        "DO $$ BEGIN IF to_regclass('expandcontract.backfills') IS NOT NULL THEN "
        f"DELETE FROM expandcontract.backfills WHERE name IN ({listed}); END IF; END $$"
    )
    return sql(statement, comment=f"forget the downgrade's backfill {', '.join(names)}: the next downgrade fills again")


def commented(steps: list[Step], comment: str) -> list[Step]:
    """`steps` with `comment` above the first one (a heading for a group of steps)."""
    if not steps:
        return steps
    first = steps[0]
    joined = f"{comment}; {first.comment}" if first.comment else comment
    return [Step(first.code, first.autocommit, joined, first.ignore), *steps[1:]]


@dataclass
class Phase:
    """One revision's content."""

    summary: str  # what this phase does
    next_step: str  # what the app (or the operator) must do before the next phase
    upgrade: list[Step] = field(default_factory=list)
    downgrade: list[Step] = field(default_factory=list)
    constants: dict[str, str] = field(default_factory=dict)  # NAME -> SQL (trigger functions and the like)
    reversible: bool | str = True
    reason: str | None = None

    @property
    def empty(self) -> bool:
        return not self.upgrade and not self.downgrade


@dataclass
class ChangePlan:
    expand: Phase
    migrate: Phase
    contract: Phase
    renames: dict[str, str] = field(default_factory=dict)  # ec_renames: "table.old" -> "table.new"

    def phase(self, name: str) -> Phase:
        phase: Phase = getattr(self, name)
        return phase


_STRENGTH = {True: 2, "lossy": 1, False: 0}


def combine(plans: list[ChangePlan]) -> ChangePlan:
    """Several recipes as one change: upgrades in order, downgrades in reverse order."""
    if len(plans) == 1:
        return plans[0]

    def join(name: str) -> Phase:
        phases = [p.phase(name) for p in plans]
        busy = [p for p in phases if not p.empty] or phases[:1]
        weakest = min(phases, key=lambda p: _STRENGTH[p.reversible])
        reasons = [p.reason for p in phases if p.reason and p.reversible == weakest.reversible]
        constants: dict[str, str] = {}
        for p in phases:
            for key, value in p.constants.items():
                assert constants.get(key, value) == value, f"two recipes define {key} differently"
                constants[key] = value
        return Phase(
            summary="\n".join(f"- {p.summary}" for p in busy) if len(busy) > 1 else busy[0].summary,
            next_step=" ".join(dict.fromkeys(p.next_step for p in phases if p.next_step)),
            upgrade=[s for p in phases for s in p.upgrade],
            downgrade=[s for p in reversed(phases) for s in p.downgrade],
            constants=constants,
            reversible=weakest.reversible,
            reason="; ".join(reasons) or None,
        )

    renames: dict[str, str] = {}
    for p in plans:
        renames.update(p.renames)
    return ChangePlan(join("expand"), join("migrate"), join("contract"), renames)


def render_body(steps: list[Step]) -> str:
    """The body of upgrade()/downgrade() at one indent level; the first line carries no indent (the
    template puts it after its own), autocommit steps grouped in `autocommit_block()`s."""
    if not steps:
        return "pass"
    lines: list[str] = []
    i = 0
    blocks = 0
    while i < len(steps):
        if steps[i].autocommit:
            first = steps[i]
            lines.extend(_comment_lines(first.comment))  # a group's heading goes above the block
            if not blocks and any(not s.autocommit and not s.code.startswith("op.backfill(") for s in steps[:i]):
                lines.append(RERUNNABLE)
            blocks += 1
            lines.append("with op.get_context().autocommit_block():")
            lines.extend(INDENT + ln for ln in first.code.splitlines())
            i += 1
            while i < len(steps) and steps[i].autocommit:
                lines.extend(INDENT + ln for ln in _step_lines(steps[i]))
                i += 1
        else:
            lines.extend(_step_lines(steps[i]))
            i += 1
    return ("\n" + INDENT).join(lines)


def _step_lines(step: Step) -> list[str]:
    ignore = [f"# expandcontract: ignore[{step.ignore[0]}] {step.ignore[1]}"] if step.ignore else []
    return [*_comment_lines(step.comment), *ignore, *step.code.splitlines()]


def _comment_lines(comment: str | None) -> list[str]:
    return [f"# {ln}" for ln in textwrap.wrap(comment, WIDTH - 12)] if comment else []


def render_docstring(phase: Phase) -> str:
    """The revision's docstring paragraphs after its first line."""
    paragraphs = [phase.summary]
    if phase.next_step:
        paragraphs.append(phase.next_step)
    out = []
    for para in paragraphs:
        if para.startswith("- "):
            out.append("\n".join(textwrap.fill(ln, WIDTH, subsequent_indent="  ") for ln in para.splitlines()))
        else:
            out.append(textwrap.fill(para, WIDTH))
    return "\n\n".join(out).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def render_module(phase: Phase, renames: dict[str, str] | None) -> str:
    """Module-level declarations after `ec_phase`: reversibility, renames, SQL constants."""
    lines: list[str] = []
    if phase.reversible is not True:
        lines.append(f"ec_reversible = {phase.reversible!r}")
        if phase.reason:
            lines.append(f"ec_reason = {pystr(phase.reason)}")
    elif phase.upgrade and not phase.downgrade:
        lines.append(f"ec_reversible = True  # {phase.reason or 'the downgrade has nothing to undo'}")
    if renames:
        lines.append("ec_renames = {" + ", ".join(f"{pystr(k)}: {pystr(v)}" for k, v in renames.items()) + "}")
    for name, text in phase.constants.items():
        body = text.strip("\n").replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
        lines.append("")
        lines.append(f'{name} = """\n{body}\n"""')
    return "\n".join(lines)
